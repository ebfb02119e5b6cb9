package h1client

import (
	"bufio"
	"io"
	"net/http"
	"strconv"

	"github.com/tuskcompose/composer/internal/h1head"
)

// readResponse reads the answer to req from br: an answer whose head is
// all in br's buffer and plain (parsePlain) is made from the buffer with
// fewer copies, every other one is read by http.ReadResponse. spare is
// where the call's body goes: a plain answer's own (allocated with it),
// nil for another. lines: a plain answer whose lines can go on as they
// are has no Header (RoundTripLines).
func readResponse(br *bufio.Reader, req *http.Request, lines bool) (resp *http.Response, spare *body, err error) {
	if a, n := parsePlain(br, req, lines); a != nil {
		br.Discard(n)
		resp = &a.resp
		resp.Body = http.NoBody
		if resp.ContentLength > 0 {
			a.length = lengthBody{br: br, remain: resp.ContentLength}
			resp.Body = &a.length
		}
		return resp, &a.body, nil
	}
	resp, err = http.ReadResponse(br, req)
	return resp, nil, err
}

// answer is what a plain answer is made of, in one allocation: the
// response, its reader of the connection's buffer, the call's body that
// releases the connection at the end, and the header's values (most
// answers have fewer fields than answerValues).
type answer struct {
	resp   http.Response
	length lengthBody
	body   body
	values [answerValues]string
}

const answerValues = 8

// linesOnly are what keeps an answer's lines from going on as they are
// (but for the connection's own fields, which a proxy leaves out,
// h1head.EndToEnd): the answer of RoundTripLines has a header when its
// lines have any.
const linesOnly = h1head.Untidy | h1head.HasNamedHop | h1head.HasTransferEncoding

// parsePlain makes the answer whose head begins br's buffer, without
// reading the connection, and returns it (without its Body) with the
// head's length; nil when the head is not all buffered or is anything but
// a plain one: HTTP/1.0 or 1.1, a final status with a body (not 1xx, 204
// or 304, not to a HEAD), a plain header block (h1head), one
// Content-Length of digits and no Transfer-Encoding. For such a head it
// makes what http.ReadResponse makes (FuzzParsePlainAsReadResponse
// compares them), in an answer.
func parsePlain(br *bufio.Reader, req *http.Request, lines bool) (*answer, int) {
	if req.Method == http.MethodHead {
		return nil, 0
	}
	buf, _ := br.Peek(br.Buffered())
	line, block, n, ok := h1head.Split(buf)
	// "HTTP/1.1 200 OK": the protocol, a space, three digits, then a
	// space and the reason, or nothing.
	if !ok || len(line) < 12 || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return nil, 0
	}
	proto, minor, ok := h1head.Proto(line[:8])
	if !ok {
		return nil, 0
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil, 0
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified || !h1head.Visible(line[12:], true) {
		return nil, 0
	}
	a := new(answer)
	text := string(block)
	var h http.Header
	var seen h1head.Has
	var cl string
	if lines {
		// Lines that go on as they are need no header: they are only read.
		var lengths int
		if seen, cl, lengths, ok = h1head.Scan(text); !ok || lengths != 1 || seen&linesOnly != 0 {
			lines = false
		}
	}
	if !lines {
		if h, seen, ok = h1head.FieldsText(text, a.values[:]); !ok {
			return nil, 0
		}
		if vv := h["Content-Length"]; len(vv) == 1 {
			cl = vv[0]
		} else {
			cl = "" // none, or more than one: net/http's to judge
		}
	}
	if seen&h1head.HasTransferEncoding != 0 || len(cl) == 0 || len(cl) > 18 || cl[0] < '0' || cl[0] > '9' {
		return nil, 0
	}
	length, err := strconv.ParseInt(cl, 10, 64)
	if err != nil {
		return nil, 0
	}
	close := h1head.Closes(minor, seen)
	if close && minor == 1 && h != nil {
		delete(h, "Connection") // as net/http does with an answer's "close"
	}
	a.body.head, a.body.seen = text, seen
	a.resp = http.Response{
		Status:        h1head.Status(code, line[9:]),
		StatusCode:    code,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		ContentLength: length,
		Close:         close,
		Request:       req,
	}
	return a, n
}

// lengthBody is the body of an answer of known length, read from the
// connection's buffer: io.EOF at its end, io.ErrUnexpectedEOF when the
// connection ends before it.
type lengthBody struct {
	br     *bufio.Reader
	remain int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err == nil && b.remain == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }
