package h1client

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/internal/h1head"
)

// FuzzParsePlainAsReadResponse: whatever head parsePlain takes,
// http.ReadResponse reads the same answer from it, body and all.
func FuzzParsePlainAsReadResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nno!",
		"HTTP/1.1 201\r\ncontent-length: 0\r\nConnection: close\r\nPragma: no-cache\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 500 Oops\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi",
	} {
		f.Add(seed, false, false)
		f.Add(seed, false, true)
	}
	f.Fuzz(func(t *testing.T, raw string, head, lines bool) {
		req := &http.Request{Method: "GET"}
		if head {
			req.Method = "HEAD"
		}
		br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		br.Peek(1) // fill the buffer, as a connection's read does
		a, _ := parsePlain(br, req, lines)
		if a == nil {
			return
		}
		if a.resp.Header == nil {
			// Lines that go on as they are (RoundTripLines): the header
			// made from them is ReadResponse's.
			if !lines || a.body.seen&linesOnly != 0 {
				t.Fatalf("%q: no header, lines %v, seen %09b", raw, lines, a.body.seen)
			}
			a.resp.Header = linesHeader(&a.resp, a.body.head)
		}
		if a.body.seen&h1head.Untidy == 0 {
			// Tidy lines are the header as it is: each "Name: value", the
			// values of a name in their order.
			lines := map[string][]string{}
			for line := range strings.SplitSeq(strings.TrimSuffix(a.body.head, "\r\n"), "\r\n") {
				if name, value, ok := strings.Cut(line, ": "); ok {
					lines[name] = append(lines[name], value)
				} else if line != "" {
					t.Fatalf("%q: a tidy line %q without a colon and space", raw, line)
				}
			}
			if a.resp.Close && a.resp.ProtoMinor == 1 {
				delete(lines, "Connection") // (net/http takes "close" out of the header)
			}
			if !reflect.DeepEqual(http.Header(lines), a.resp.Header) && !(len(lines) == 0 && len(a.resp.Header) == 0) {
				t.Errorf("%q: tidy lines %#v, the header %#v", raw, lines, a.resp.Header)
			}
		}
		got, _, err := readResponse(br, req, lines)
		if err != nil {
			t.Fatal(err)
		}
		if got.Header == nil {
			got.Header = linesHeader(got, a.body.head)
		}
		want, err := http.ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), req)
		if err != nil {
			t.Fatalf("parsePlain took %q, ReadResponse refuses it: %v", raw, err)
		}
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"status", got.Status, want.Status}, {"code", got.StatusCode, want.StatusCode}, {"proto", got.Proto, want.Proto},
			{"minor", got.ProtoMinor, want.ProtoMinor}, {"header", got.Header, want.Header},
			{"length", got.ContentLength, want.ContentLength}, {"close", got.Close, want.Close},
			{"transfer encoding", got.TransferEncoding, want.TransferEncoding}, {"trailer", got.Trailer, want.Trailer},
			{"no body", got.Body == http.NoBody, want.Body == http.NoBody},
			{"body", read(got.Body), read(want.Body)},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%q: %s %#v, ReadResponse %#v", raw, c.name, c.got, c.want)
			}
		}
	})
}

// linesHeader is the header readResponse makes of an answer's lines when
// it makes one.
func linesHeader(resp *http.Response, lines string) http.Header {
	h, _, _ := h1head.FieldsText(lines, nil)
	if resp.Close && resp.ProtoMinor == 1 {
		delete(h, "Connection")
	}
	return h
}

// read is a body's bytes and how it ended.
func read(r io.Reader) string {
	b, err := io.ReadAll(r)
	return fmt.Sprintf("%q %v", b, err)
}

// TestParsePlainTakesCommonAnswers: the answers instances give most take
// the plain path.
func TestParsePlainTakesCommonAnswers(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Length: 24\r\n\r\n",
		"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
	} {
		br := bufio.NewReader(strings.NewReader(raw))
		br.Peek(1)
		if resp, n := parsePlain(br, &http.Request{Method: "GET"}, false); resp == nil || n != len(raw) {
			t.Errorf("%q fell back", raw)
		}
	}
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", // chunked
		"HTTP/1.1 200 OK\r\n\r\nto the end",                              // no length
		"HTTP/1.1 100 Continue\r\n\r\n",                                  // informational
		"HTTP/1.1 204 No Content\r\n\r\n",                                // no body
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",                       // not all of the head
	} {
		br := bufio.NewReader(strings.NewReader(raw))
		br.Peek(1)
		if resp, _ := parsePlain(br, &http.Request{Method: "GET"}, false); resp != nil {
			t.Errorf("%q took the plain path", raw)
		}
	}
}
