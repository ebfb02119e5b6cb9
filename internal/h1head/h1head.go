// Package h1head reads the head of a plain HTTP/1.x message from a
// buffer: the fast path of h1server's requests and h1client's answers.
// It takes only a strict subset of what HTTP/1.1 allows (lines ending in
// CRLF, header names of token characters with the colon right after
// them, values of visible ASCII, spaces and tabs) and says so when a head
// is outside it: the caller then reads the message with net/http's own
// parser, which decides. What it does take it reads as net/http's
// textproto does (the fuzz tests of both callers compare them).
package h1head

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

var crlf = []byte("\r\n")

// Split finds a whole head at the start of buf: its first line, the block
// of header lines after it (each with its CRLF, without the blank line
// that ends the head) and the head's length. ok is false when the head's
// end is not in buf.
func Split(buf []byte) (line, block []byte, n int, ok bool) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, 0, false
	}
	lineEnd := bytes.Index(buf, crlf)
	if lineEnd == end {
		return buf[:lineEnd], nil, end + 4, true
	}
	return buf[:lineEnd], buf[lineEnd+2 : end+2], end + 4, true
}

// Fields reads a block of header lines into a header: names canonical,
// values trimmed, a name's values in their order, all of them slices of
// one string. ok is false when a line is not plain.
func Fields(block []byte) (h http.Header, ok bool) {
	n := bytes.Count(block, crlf)
	text := string(block)
	h = make(http.Header, n)
	values := make([]string, n)
	for len(text) > 0 {
		i := indexCRLF(text)
		line := text[:i]
		text = text[i+2:]
		colon := indexByte(line, ':')
		if colon <= 0 {
			return nil, false
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !Token(name) || !fieldValue(value) {
			return nil, false
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
	return h, true
}

// Closes reports whether a message of HTTP/1.minor with header h ends its
// connection (net/http's rule: "close" in Connection, or HTTP/1.0 without
// "keep-alive").
func Closes(minor int, h http.Header) bool {
	conn := h["Connection"]
	close := httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 {
		return close || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}
	return close
}

// FixPragma gives a header with "Pragma: no-cache" and no Cache-Control
// "Cache-Control: no-cache", as net/http does with every message it reads.
func FixPragma(h http.Header) {
	if pragma := h["Pragma"]; len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
}

// Proto reads "HTTP/1.1" or "HTTP/1.0": the protocol as a string that
// is not a copy, and its minor version; ok is false for anything else.
func Proto(b []byte) (proto string, minor int, ok bool) {
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1", 1, true
	case "HTTP/1.0":
		return "HTTP/1.0", 0, true
	}
	return "", 0, false
}

// Method is b as a string, without a copy for the common methods.
func Method(b []byte) string {
	for _, m := range methods {
		if string(b) == m {
			return m
		}
	}
	return string(b)
}

var methods = [...]string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut, http.MethodDelete,
	http.MethodPatch, http.MethodOptions}

// Status is an answer's status ("200 OK") as a string, without a copy
// when it is a code and net/http's text for it.
func Status(code int, b []byte) string {
	if code < len(statuses) && statuses[code] != "" && string(b) == statuses[code] {
		return statuses[code]
	}
	return string(b)
}

// statuses are "200 OK" and the like, by code, made once.
var statuses = func() []string {
	s := make([]string, 600)
	for code := range s {
		if text := http.StatusText(code); text != "" {
			s[code] = strconv.Itoa(code) + " " + text
		}
	}
	return s
}()

// Token reports whether s is a non-empty token (RFC 9110 5.6.2).
func Token[S string | []byte](s S) bool {
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

// Visible reports whether b is visible ASCII, and spaces where spaces is
// true.
func Visible(b []byte, spaces bool) bool {
	for _, c := range b {
		if c < ' ' || c >= 0x7f || c == ' ' && !spaces {
			return false
		}
	}
	return true
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
