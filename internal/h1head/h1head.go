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
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Split finds a whole head at the start of buf: its first line, the block
// of header lines after it (each with its CRLF, without the blank line
// that ends the head) and the head's length. ok is false when the head's
// end is not in buf.
func Split(buf []byte) (line, block []byte, n int, ok bool) {
	// Every CRLF ends in a LF: a look at each LF finds the first line's
	// end and the blank line's.
	lineEnd := -1
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return nil, nil, 0, false
		}
		i += j
		if i >= 1 && buf[i-1] == '\r' {
			if lineEnd < 0 {
				lineEnd = i - 1
			}
			if i >= 3 && buf[i-3] == '\r' && buf[i-2] == '\n' {
				end := i - 3
				if lineEnd == end {
					return buf[:lineEnd], nil, end + 4, true
				}
				return buf[:lineEnd], buf[lineEnd+2 : end+2], end + 4, true
			}
		}
		i++
	}
}

// Has is what Fields noticed of a head: which of the fields that decide
// how it is read (its body's framing, its connection, its caching, its
// sniffing) it has, so that it and its callers look up only those it has,
// and whether its header is its lines as they are written (a proxy may
// then send the lines on as they came).
type Has uint16

const (
	HasContentLength Has = 1 << iota
	HasTransferEncoding
	HasConnection
	HasContentType
	HasContentEncoding
	HasDate
	// HasHopByHop: a field of one connection other than Connection and
	// Transfer-Encoding (Keep-Alive, Proxy-Connection,
	// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Upgrade).
	HasHopByHop
	// Untidy: the header is not the block's lines as they are written,
	// "Name: value" with the name canonical, one space after the colon
	// and the value not empty and without spaces around it; or Fields
	// added a field (Pragma's).
	Untidy
	// HasNamedHop: a Connection field names more than the connection's
	// own fields and "close": a field that a proxy removes with it.
	HasNamedHop
	hasPragma    // (Fields' own: it fixes Pragma itself)
	hasClose     // "close" in a Connection field (Closes')
	hasKeepAlive // "keep-alive" in a Connection field (Closes')
)

// connection is what a Connection field's value says: "close",
// "keep-alive", and whether it names a field that is not of the
// connection (HasNamedHop). Its tokens are read as httpguts reads them.
func connection(value string) (seen Has) {
	for token := range strings.SplitSeq(value, ",") {
		switch token = trimOWS(token); {
		case token == "":
		case strings.EqualFold(token, "close"):
			seen |= hasClose
		case strings.EqualFold(token, "keep-alive"):
			seen |= hasKeepAlive
		case has(textproto.CanonicalMIMEHeaderKey(token))&(HasConnection|HasTransferEncoding|HasHopByHop) == 0:
			seen |= HasNamedHop
		}
	}
	return seen
}

// has is the member of Has a canonical field name is, or none.
func has(name string) Has {
	switch name {
	case "Content-Length":
		return HasContentLength
	case "Transfer-Encoding":
		return HasTransferEncoding
	case "Connection":
		return HasConnection
	case "Content-Type":
		return HasContentType
	case "Content-Encoding":
		return HasContentEncoding
	case "Date":
		return HasDate
	case "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade":
		return HasHopByHop
	case "Pragma":
		return hasPragma | Untidy // (fixPragma may add Cache-Control)
	}
	return 0
}

// Fields reads a block of header lines into a header: names canonical,
// values trimmed, a name's values in their order, all of them slices of
// one string, and Pragma fixed as net/http fixes it (fixPragma); seen
// holds which fields of Has it has. ok is false when a line is not plain.
//
// The header's values are kept in store when it has room for one per
// line (the caller's, allocated with what the header goes into, an
// allocation fewer), else in an array of Fields' own. store is the
// header's from then on: the caller does not use it for anything else.
func Fields(block []byte, store []string) (h http.Header, seen Has, ok bool) {
	h, _, _, seen, ok = fields(string(block), store, "")
	return h, seen, ok
}

// FieldsText is Fields of a block as text, for a caller that keeps the
// text (the header's values are slices of it).
func FieldsText(text string, store []string) (h http.Header, seen Has, ok bool) {
	h, _, _, seen, ok = fields(text, store, "")
	return h, seen, ok
}

// RequestFields is FieldsText for a request's head, whose Host field
// net/http keeps out of the header (in Request.Host): host is its value
// and hosts how many Host lines the head has, none of them in h. The
// header's values and host are slices of text.
func RequestFields(text string, store []string) (h http.Header, host string, hosts int, seen Has, ok bool) {
	return fields(text, store, "Host")
}

// fields is Fields, with the field named aside (canonical; "" for none)
// kept out of the header: its first value, and how many it has.
func fields(text string, store []string, aside string) (h http.Header, asideValue string, asides int, seen Has, ok bool) {
	n := strings.Count(text, "\n") // (at least the lines: each ends in CRLF)
	h = make(http.Header, n)
	var values []string
	if len(store) >= n {
		values = store[:n:n]
	} else {
		values = make([]string, n)
	}
	// The names so far, to tell a repeated one without a lookup (most
	// heads have a few fields, each once).
	var names [16]string
	lines := 0
	for len(text) > 0 {
		var name, value string
		var tidy bool
		name, value, text, tidy, ok = field(text)
		if !ok {
			return nil, "", 0, 0, false
		}
		if !tidy {
			seen |= Untidy
		}
		if name == aside { // (never "": a name is not empty)
			if asides == 0 {
				asideValue = value
			}
			asides++
			continue
		}
		seen |= has(name)
		if name == "Connection" {
			seen |= connection(value)
		}
		repeated := false
		if lines < len(names) {
			for _, s := range names[:lines] {
				if s == name {
					repeated = true
					break
				}
			}
			names[lines] = name
		} else {
			_, repeated = h[name]
		}
		lines++
		if !repeated {
			vv := values[:1:1]
			values = values[1:]
			vv[0] = value
			h[name] = vv
		} else {
			h[name] = append(h[name], value)
		}
	}
	if seen&hasPragma != 0 {
		fixPragma(h)
	}
	return h, asideValue, asides, seen, true
}

// field reads the first line of a block: its name (canonical) and value
// (trimmed), what follows it, and whether it is tidy (Untidy's "Name:
// value"); ok is false when the line is not plain.
func field(text string) (name, value, rest string, tidy, ok bool) {
	i := strings.IndexByte(text, '\n')
	if i < 1 || text[i-1] != '\r' {
		return "", "", "", false, false
	}
	line := text[:i-1]
	colon, canonical := fieldName(line)
	if colon <= 0 {
		return "", "", "", false, false
	}
	name, value = line[:colon], trimOWS(line[colon+1:])
	if !allIn(&valueBytes, value) {
		return "", "", "", false, false
	}
	tidy = canonical && len(value) > 0 && len(line) == colon+2+len(value) && line[colon+1] == ' '
	if !canonical {
		name = textproto.CanonicalMIMEHeaderKey(name)
	}
	return name, value, text[i+1:], tidy, true
}

// Scan reads a block of header lines as Fields does, but into no header:
// what Fields would see of them, the value of their first Content-Length
// and how many they have; ok is false when a line is not plain. A caller
// that sends tidy lines on as they are needs no header of them.
func Scan(text string) (seen Has, contentLength string, lengths int, ok bool) {
	for len(text) > 0 {
		var name, value string
		var tidy bool
		if name, value, text, tidy, ok = field(text); !ok {
			return 0, "", 0, false
		}
		if !tidy {
			seen |= Untidy
		}
		if h := has(name); h != 0 {
			seen |= h
			if h == HasConnection {
				seen |= connection(value)
			}
			if h == HasContentLength {
				if lengths == 0 {
					contentLength = value
				}
				lengths++
			}
		}
	}
	return seen, contentLength, lengths, true
}

// Value is the value of the first line of tidy lines (Untidy's) named
// name, canonical; "" when none is.
func Value(lines, name string) string {
	for i := 0; ; {
		j := strings.Index(lines[i:], name)
		if j < 0 {
			return ""
		}
		i += j
		if (i == 0 || lines[i-1] == '\n') && strings.HasPrefix(lines[i+len(name):], ": ") {
			v := lines[i+len(name)+2:]
			return v[:strings.IndexByte(v, '\r')]
		}
		i += len(name)
	}
}

// fieldName finds the colon that ends a header line's name, the name
// all token characters; colon is -1 when there is none or a byte before
// it is not a token character. canonical reports whether the name is in
// textproto's canonical form already (each word's first letter upper
// case, the others lower case). One pass over the name does all three.
func fieldName(line string) (colon int, canonical bool) {
	canonical, upper := true, true
	for i := 0; i < len(line); i++ {
		switch k := nameBytes[line[i]]; k {
		case 0:
			if line[i] == ':' {
				return i, canonical
			}
			return -1, false
		case lowerByte:
			canonical = canonical && !upper
			upper = false
		case upperByte:
			canonical = canonical && upper
			upper = false
		case dashByte:
			upper = true
		default:
			upper = false
		}
	}
	return -1, false
}

// nameBytes classes the bytes of a header name for fieldName: 0 for a
// byte that is not a token character.
var nameBytes = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case tokenBytes[c] == 0:
		case 'a' <= c && c <= 'z':
			t[c] = lowerByte
		case 'A' <= c && c <= 'Z':
			t[c] = upperByte
		case c == '-':
			t[c] = dashByte
		default:
			t[c] = otherTokenByte
		}
	}
	return t
}()

const (
	lowerByte = 1 + iota
	upperByte
	dashByte
	otherTokenByte
)

// Closes reports whether a message of HTTP/1.minor ends its connection
// (net/http's rule: "close" in Connection, or HTTP/1.0 without
// "keep-alive"); seen is what Fields or Scan saw of its head.
func Closes(minor int, seen Has) bool {
	if minor == 0 {
		return seen&hasClose != 0 || seen&hasKeepAlive == 0
	}
	return seen&hasClose != 0
}

// EndToEnd is tidy lines (Untidy's) without the lines of the
// connection's own fields (Connection, Keep-Alive, Transfer-Encoding and
// the other hop-by-hop ones): what a proxy sends on of lines whose
// Connection names no other field (HasNamedHop).
func EndToEnd(lines string) string {
	var b strings.Builder
	b.Grow(len(lines))
	for rest := lines; rest != ""; {
		i := strings.IndexByte(rest, '\n') + 1
		if i == 0 {
			i = len(rest)
		}
		line := rest[:i]
		rest = rest[i:]
		name, _, _ := strings.Cut(line, ":")
		if has(name)&(HasConnection|HasTransferEncoding|HasHopByHop) == 0 {
			b.WriteString(line)
		}
	}
	return b.String()
}

// fixPragma gives a header with "Pragma: no-cache" and no Cache-Control
// "Cache-Control: no-cache", as net/http does with every message it reads.
func fixPragma(h http.Header) {
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
	return len(s) > 0 && allIn(&tokenBytes, string(s))
}

// allIn reports whether every byte of s is in the set t (1 for a member,
// 0 for another), eight bytes to a test.
func allIn(t *[256]uint8, s string) bool {
	for len(s) >= 8 {
		if t[s[0]]&t[s[1]]&t[s[2]]&t[s[3]]&t[s[4]]&t[s[5]]&t[s[6]]&t[s[7]] == 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if t[s[i]] == 0 {
			return false
		}
	}
	return true
}

// tokenBytes is the set of token characters, as allIn's set.
var tokenBytes = set(func(c byte) bool { return c < 0x80 && httpguts.IsTokenRune(rune(c)) })

// set makes allIn's set of the bytes in reports.
func set(in func(c byte) bool) (t [256]uint8) {
	for c := range 256 {
		if in(byte(c)) {
			t[c] = 1
		}
	}
	return t
}

// AppendField appends the header line "name: value\r\n" to b, the value's
// ends trimmed and its line breaks replaced by spaces, as net/http
// writes a header's values.
func AppendField(b []byte, name, value string) []byte {
	value = textproto.TrimString(value)
	b = append(b, name...)
	b = append(b, ": "...)
	start := len(b)
	b = append(b, value...)
	if strings.IndexByte(value, '\r') >= 0 || strings.IndexByte(value, '\n') >= 0 {
		for i := start; i < len(b); i++ {
			if b[i] == '\r' || b[i] == '\n' {
				b[i] = ' '
			}
		}
	}
	return append(b, "\r\n"...)
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

// valueBytes is the set of the bytes of a trimmed field value that
// Fields takes: visible ASCII, spaces and tabs.
var valueBytes = set(func(c byte) bool { return ' ' <= c && c < 0x7f || c == '\t' })
