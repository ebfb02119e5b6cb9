package h1server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/tuskcompose/composer/internal/h1head"
)

// readRequest reads the next request from br, with ctx as its context,
// and notes its Connection field in st. A request whose head is all in
// br's buffer and plain (parsePlain) is made from the buffer with fewer
// copies, in st, and plain says so: its header's names and values are
// valid already (h1head takes no others). Every other one, and every one
// parsePlain is not sure of, is read by http.ReadRequest.
func readRequest(ctx context.Context, br *bufio.Reader, st *requestStore) (req *http.Request, plain bool, err error) {
	if req, n := parsePlain(ctx, br, st); req != nil {
		br.Discard(n)
		return req, true, nil
	}
	req, err = http.ReadRequest(br)
	if err != nil {
		return nil, false, err
	}
	st.connection = get(req.Header, "Connection")
	return req.WithContext(ctx), false, nil
}

// parsePlain makes the request whose head begins br's buffer, without
// reading the connection, and returns it with the head's length; nil when
// the head is not all buffered or is anything but a plain one: an
// origin-form target, HTTP/1.0 or 1.1, a plain header block (h1head),
// one Host at most, no Content-Length or Transfer-Encoding (no body). For
// such a head it makes what http.ReadRequest makes
// (FuzzParsePlainAsReadRequest compares them). The request's URL and
// its header's values go in st (nil: a store of parsePlain's own).
func parsePlain(ctx context.Context, br *bufio.Reader, st *requestStore) (*http.Request, int) {
	buf, _ := br.Peek(br.Buffered())
	line, block, n, ok := h1head.Split(buf)
	if !ok {
		return nil, 0
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, 0
	}
	sp2 := sp1 + 1 + bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= sp1 {
		return nil, 0
	}
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	protoStr, minor, ok := h1head.Proto(proto)
	if !ok || !h1head.Token(method) || len(target) == 0 || target[0] != '/' || !h1head.Visible(target, false) {
		return nil, 0
	}
	if st == nil {
		st = new(requestStore)
	}
	// The head as one string (the request line, its CRLF and the block):
	// the target and the header's values are slices of it.
	text := string(buf[:len(line)+2+len(block)])
	h, host, hosts, seen, ok := h1head.RequestFields(text[len(line)+2:], st.values[:])
	if !ok || hosts > 1 || seen&(h1head.HasContentLength|h1head.HasTransferEncoding) != 0 {
		return nil, 0
	}
	uri := text[sp1+1 : sp2]
	var u *url.URL
	if plainPath(target) {
		st.url = url.URL{Path: uri} // what url.ParseRequestURI makes of it
		u = &st.url
	} else {
		var err error
		if u, err = url.ParseRequestURI(uri); err != nil {
			return nil, 0
		}
	}
	if seen&h1head.HasConnection != 0 {
		st.connection = h["Connection"][0]
	}
	// The request is made on the stack and copied once, with its context.
	r := http.Request{
		Method:     h1head.Method(method),
		URL:        u,
		Proto:      protoStr,
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
		Close:      h1head.Closes(minor, seen),
		RequestURI: uri,
	}
	return r.WithContext(ctx), n
}

// requestStore is where parsePlain puts a plain request's URL and its
// header's values, allocated with what the request goes with (its
// answer, in serveRequest): two allocations fewer. Most requests have
// fewer fields than requestValues. connection is the first value of the
// request's Connection field as the client sent it (readRequest's, of
// every request): the answer's framing depends on it, and a handler may
// take the field out of the header (a proxy does).
type requestStore struct {
	url        url.URL
	values     [requestValues]string
	connection string
}

const requestValues = 8

// plainPath reports whether an origin-form target is a path that
// url.ParseRequestURI would take as it is: no query, no escapes, only
// bytes it leaves unescaped in a path (so that its RawPath is empty).
func plainPath(target []byte) bool {
	for _, c := range target {
		if !pathByte[c] {
			return false
		}
	}
	return true
}

// pathByte says which bytes plainPath takes: letters, digits, and
// "-._~/$&+,:;=@".
var pathByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~/$&+,:;=@" {
		t[c] = true
	}
	return t
}()
