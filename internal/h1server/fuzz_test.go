package h1server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzAnswersAsNetHTTP sends what the fuzzer makes, as it is, to
// net/http's server and to this one, in front of the same handlers, and
// wants the same answers. The client ends its side after sending, so
// that both servers end the connection when they have answered.
func FuzzAnswersAsNetHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET /small HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\nHEAD /cl HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /ignore HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabcGET /request HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /trailer HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
		"GET /status/304 HTTP/1.1\r\nHost: a.test\r\nX: y\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	} {
		f.Add(seed)
	}
	p := newPair(f, handlers(), io.Discard)
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 64<<10 || strings.HasPrefix(raw, "PRI") || strings.Contains(raw, "/abort") {
			return // HTTP/2 is net/http's either way; an aborted answer's cut point may differ
		}
		methods := requestMethods(raw)
		if slices.Contains(methods, "") {
			return // an empty Host: refused here, taken by net/http (documented)
		}
		// What follows the last whole request is answered by net/http or
		// not depending on when it saw the client's end: compared are the
		// answers to the whole requests (and the informational ones
		// before them), or every answer when none is whole.
		want := firstAnswers(talkHalfClosed(t, p.std, raw, methods), len(methods))
		got := firstAnswers(talkHalfClosed(t, p.lean, raw, methods), len(methods))
		if !slices.Equal(got, want) {
			t.Errorf("for %q\nh1server:\n%s\n\nnet/http:\n%s", raw, strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
		}
	})
}

// firstAnswers are answers up to the n-th final one (all of them for n 0).
func firstAnswers(answers []string, n int) []string {
	if n == 0 {
		return answers
	}
	for i, a := range answers {
		if !strings.HasPrefix(a, "1") {
			if n--; n == 0 {
				return answers[:i+1]
			}
		}
	}
	return answers
}

// requestMethods are the methods of the requests raw holds, as far as they
// can be read; "" for an HTTP/1.1 one without a Host (TestAnswersAsNetHTTP
// has the case of none; an empty one is taken by net/http only).
func requestMethods(raw string) []string {
	br := bufio.NewReader(strings.NewReader(raw))
	var methods []string
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return methods
		}
		if req.Host == "" && req.ProtoAtLeast(1, 1) {
			return append(methods, "") // no Host, or an empty one
		}
		methods = append(methods, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return methods
		}
	}
}

// talkHalfClosed sends raw to addr, ends its side, and reads the answers
// until the server closes the connection.
func talkHalfClosed(t *testing.T, addr, raw string, methods []string) []string {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, raw)
	nc.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(nc)
	var answers []string
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			return answers
		}
		method := "GET"
		if i < len(methods) {
			method = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return append(answers, "unreadable")
		}
		body, err := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		var b strings.Builder
		b.WriteString(resp.Status + "\n")
		resp.Header.Write(&b)
		b.Write(body)
		if err != nil {
			b.WriteString(" (cut)")
		}
		resp.Trailer.Write(&b)
		answers = append(answers, b.String())
		if err != nil {
			return answers
		}
	}
}
