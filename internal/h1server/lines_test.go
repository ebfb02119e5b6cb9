package h1server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/h1head"
)

// TestWriteHeaderLines: an answer's lines given as they are follow the
// handler's own fields; the server adds what it adds to any answer (a
// Date where there is none, a sniffed type where there is neither type
// nor encoding), not a Content-Length of its own; and a handler's header
// with a field of the framing, or a head written already, is refused
// with nothing done.
func TestWriteHeaderLines(t *testing.T) {
	type linesWriter interface {
		WriteHeaderLines(code int, lines string, contentLength int64, has h1head.Has) bool
	}
	for _, c := range []struct {
		name   string
		own    map[string]string // the handler's header
		lines  string
		code   int
		before bool // WriteHeader before
		ok     bool
		head   string // the answer's head, its Date a pattern
	}{
		{name: "typed, dated", own: map[string]string{"X-Request-Id": "id", "A-Own": "a"},
			lines: "Z: z\r\nContent-Type: text/plain\r\nDate: Fri, 04 Dec 2026 01:49:09 GMT\r\nContent-Length: 5\r\n", code: 200, ok: true,
			head: "HTTP/1.1 200 OK\r\nA-Own: a\r\nX-Request-Id: id\r\nZ: z\r\nContent-Type: text/plain\r\nDate: Fri, 04 Dec 2026 01:49:09 GMT\r\nContent-Length: 5\r\n"},
		{name: "neither type nor date", lines: "Z: z\r\nContent-Length: 5\r\n", code: 404, ok: true,
			head: "HTTP/1.1 404 Not Found\r\nZ: z\r\nContent-Length: 5\r\nContent-Type: text/plain; charset=utf-8\r\nDate: DATE\r\n"},
		{name: "encoded", lines: "Content-Encoding: gzip\r\nContent-Length: 5\r\n", code: 200, ok: true,
			head: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\nDate: DATE\r\n"},
		{name: "the handler's length", own: map[string]string{"Content-Length": "5"}, lines: "Content-Length: 5\r\n", code: 200},
		{name: "the handler's connection", own: map[string]string{"Connection": "close"}, lines: "Content-Length: 5\r\n", code: 200},
		{name: "the handler's trailer", own: map[string]string{"Trailer": "X-Sum"}, lines: "Content-Length: 5\r\n", code: 200},
		{name: "no body", lines: "Content-Length: 5\r\n", code: 204},
		{name: "written already", lines: "Z: z\r\nContent-Length: 5\r\n", code: 200, before: true},
	} {
		_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range c.own {
				w.Header().Set(k, v)
			}
			if c.before {
				w.WriteHeader(http.StatusAccepted)
			}
			_, has, _ := h1head.Fields([]byte(c.lines), nil)
			if ok := w.(linesWriter).WriteHeaderLines(c.code, c.lines, 5, has); ok != c.ok {
				t.Errorf("%s: WriteHeaderLines = %v, want %v", c.name, ok, c.ok)
			}
			if c.ok {
				io.WriteString(w, "hello")
			}
		}))
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		br := bufio.NewReader(nc)
		var head string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if line == "\r\n" {
				break
			}
			head += line
		}
		nc.Close()
		if !c.ok {
			continue // (the handler's own answer, however it goes)
		}
		pattern := "^" + regexp.QuoteMeta(c.head) + "$"
		pattern = regexp.MustCompile(`DATE`).ReplaceAllString(pattern, `[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT`)
		if !regexp.MustCompile(pattern).MatchString(head) {
			t.Errorf("%s: the head\n%s\nwant\n%s", c.name, head, c.head)
		}
	}
}
