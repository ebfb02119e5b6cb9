package h1server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/textproto"
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// readRequest reads the next request from br, with ctx as its context.
// A request whose head is all in br's buffer and inside a strict subset
// of HTTP/1.1 (parsePlain) is made from the buffer with fewer copies;
// every other one, and every one parsePlain is not sure of, is read by
// http.ReadRequest.
func readRequest(ctx context.Context, br *bufio.Reader) (*http.Request, error) {
	if req, n := parsePlain(ctx, br); req != nil {
		br.Discard(n)
		return req, nil
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	return req.WithContext(ctx), nil
}

var crlf = []byte("\r\n")

// parsePlain makes the request whose head begins br's buffer, without
// reading the connection, and returns it with the head's length; nil when
// the head is not all buffered or is anything but a plain one: an
// origin-form target, HTTP/1.0 or 1.1, lines ending in CRLF, header names
// of token characters with a colon right after them, values of visible
// ASCII, spaces and tabs, one Host at most, no Content-Length or
// Transfer-Encoding (no body). For such a head it makes what
// http.ReadRequest makes (FuzzParsePlainAsReadRequest compares them).
func parsePlain(ctx context.Context, br *bufio.Reader) (*http.Request, int) {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0
	}
	lineEnd := bytes.Index(buf, crlf)
	line := buf[:lineEnd]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, 0
	}
	sp2 := sp1 + 1 + bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= sp1 {
		return nil, 0
	}
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	var minor int
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	default:
		return nil, 0
	}
	if !tokenChars(method) || len(target) == 0 || target[0] != '/' || !visible(target) {
		return nil, 0
	}

	// The header lines, one string for all of them: names and values are
	// slices of it.
	var nlines int
	if lineEnd+2 < end+2 {
		nlines = bytes.Count(buf[lineEnd+2:end+2], crlf)
	}
	text := string(buf[lineEnd+2 : end+2])
	h := make(http.Header, nlines)
	values := make([]string, nlines)
	for len(text) > 0 {
		i := indexCRLF(text)
		fieldLine := text[:i]
		text = text[i+2:]
		colon := indexByte(fieldLine, ':')
		if colon <= 0 {
			return nil, 0
		}
		name, value := fieldLine[:colon], trimOWS(fieldLine[colon+1:])
		if !tokenString(name) || !fieldValue(value) {
			return nil, 0
		}
		name = textproto.CanonicalMIMEHeaderKey(name) // (no copy when it already is)
		if vv := h[name]; vv == nil {
			vv, values = values[:1:1], values[1:]
			vv[0] = value
			h[name] = vv
		} else {
			h[name] = append(vv, value)
		}
	}
	if _, ok := h["Content-Length"]; ok {
		return nil, 0
	}
	if _, ok := h["Transfer-Encoding"]; ok {
		return nil, 0
	}
	host := ""
	switch hosts := h["Host"]; len(hosts) {
	case 0:
	case 1:
		host = hosts[0]
	default:
		return nil, 0
	}
	u, err := url.ParseRequestURI(string(target))
	if err != nil {
		return nil, 0
	}
	delete(h, "Host")
	if pragma := h["Pragma"]; len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := h["Connection"]
	close := httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 {
		close = close || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}
	// The request is made on the stack and copied once, with its context.
	r := http.Request{
		Method:     string(method),
		URL:        u,
		Proto:      string(proto),
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
		Close:      close,
		RequestURI: string(target),
	}
	return r.WithContext(ctx), end + 4
}

func indexCRLF(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return i
		}
	}
	return len(s) - 2
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// trimOWS trims spaces and tabs at both ends.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// tokenChars reports whether b is a non-empty token (RFC 9110 5.6.2).
func tokenChars(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// tokenString is tokenChars of a string.
func tokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// visible reports whether b is visible ASCII only.
func visible(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// fieldValue reports whether a trimmed value is visible ASCII, spaces
// and tabs only.
func fieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}
