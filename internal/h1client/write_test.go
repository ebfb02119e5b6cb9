package h1client

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// sent is what a server reads of a written request.
func sent(t *testing.T, raw []byte) string {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return "body unreadable: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%q cl=%d te=%v close=%v\n", req.Method, req.RequestURI, req.Proto, req.Host, req.ContentLength, req.TransferEncoding, req.Close)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range req.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, req.Header[k])
	}
	fmt.Fprintf(&b, "body %q trailer %v", body, req.Trailer)
	return b.String()
}

// compareWrites writes a request made by mk with writeRequest and with
// net/http's Request.Write and compares what a server reads of each, and
// the errors.
func compareWrites(t *testing.T, mk func() *http.Request) {
	t.Helper()
	var lean, std bytes.Buffer
	// What writeRequest writes through to the connection (before the
	// call's Flush) may wait for the host: mayBlock must come first.
	warned, writing := false, true
	bw := bufio.NewWriter(writerFunc(func(p []byte) (int, error) {
		if writing && !warned {
			t.Errorf("writeRequest wrote %d bytes through before it called mayBlock", len(p))
		}
		return lean.Write(p)
	}))
	req := mk()
	hasBody := req.Body != nil && req.Body != http.NoBody
	leanErr := writeRequest(bw, req, func() { warned = true })
	writing = false
	if hasBody && !warned && leanErr == nil {
		t.Errorf("a request with a body written without mayBlock")
	}
	bw.Flush()
	stdErr := mk().Write(&std)
	if (leanErr == nil) != (stdErr == nil) {
		t.Fatalf("errors: writeRequest %v, Request.Write %v", leanErr, stdErr)
	}
	if stdErr != nil {
		return
	}
	if got, want := sent(t, lean.Bytes()), sent(t, std.Bytes()); got != want {
		t.Errorf("writeRequest sent\n%s\n%q\nRequest.Write sent\n%s\n%q", got, lean.Bytes(), want, std.Bytes())
	}
}

func TestWriteRequestAsNetHTTP(t *testing.T) {
	mk := func(method, target string, header http.Header, body string, cl int64) func() *http.Request {
		return func() *http.Request {
			u, err := url.Parse(target)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: method, URL: u, Header: header.Clone(), Host: u.Host, ContentLength: cl}
			if body != "" || cl != 0 {
				req.Body = io.NopCloser(strings.NewReader(body))
			}
			return req
		}
	}
	cases := []struct {
		name string
		mk   func() *http.Request
	}{
		{"GET", mk("GET", "http://a.test/x?q=1", http.Header{"Accept": {"*/*"}, "X-Two": {"1", "2"}}, "", 0)},
		{"no method", mk("", "http://a.test/", nil, "", 0)},
		{"empty path", mk("GET", "http://a.test", nil, "", 0)},
		{"escaped path", mk("GET", "http://a.test/a%2Fb/c%20d?x=%20", nil, "", 0)},
		{"force query", mk("GET", "http://a.test/x?", nil, "", 0)},
		{"POST without a body", mk("POST", "http://a.test/x", nil, "", 0)},
		{"DELETE without a body", mk("DELETE", "http://a.test/x", nil, "", 0)},
		{"HEAD", mk("HEAD", "http://a.test/x", nil, "", 0)},
		{"POST with a body", mk("POST", "http://a.test/x", http.Header{"Content-Type": {"text/plain"}}, "hello", 5)},
		{"body shorter than declared", mk("POST", "http://a.test/x", nil, "hel", 5)},
		{"body longer than declared", mk("POST", "http://a.test/x", nil, "hello!", 5)},
		{"body of unknown length", mk("POST", "http://a.test/x", nil, "chunked", -1)},
		{"no User-Agent", mk("GET", "http://a.test/", http.Header{"User-Agent": {""}}, "", 0)},
		{"a User-Agent", mk("GET", "http://a.test/", http.Header{"User-Agent": {"probe/1"}}, "", 0)},
		{"framing headers ignored", mk("GET", "http://a.test/", http.Header{"Content-Length": {"9"}, "Transfer-Encoding": {"chunked"}, "Host": {"other.test"}, "Trailer": {"X"}}, "", 0)},
		{"values cleaned", mk("GET", "http://a.test/", http.Header{"X-A": {"  padded  ", "line\r\nInjected: 1"}}, "", 0)},
		{"bad name dropped", mk("GET", "http://a.test/", http.Header{"Bad Name": {"x"}, "X-Ok": {"y"}}, "", 0)},
		{"head larger than the buffer", mk("GET", "http://a.test/", http.Header{"Cookie": {strings.Repeat("c", 10000)}, "X-Ok": {"y"}}, "", 0)},
		{"control character in path", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "a.test", Path: "/a\x7fb"}, Header: http.Header{}}
		}},
		{"host with a port", mk("GET", "http://a.test:8080/", nil, "", 0)},
		{"IPv6 host", mk("GET", "http://[::1]:8080/", nil, "", 0)},
		{"IPv6 zone", mk("GET", "http://[fe80::1%25eth0]:8080/", nil, "", 0)},
		{"unicode host", mk("GET", "http://bücher.test/", nil, "", 0)},
		{"Host differs from the URL", func() *http.Request {
			r := mk("GET", "http://127.0.0.1:9/x", nil, "", 0)()
			r.Host = "public.test"
			return r
		}},
		{"close", func() *http.Request {
			r := mk("GET", "http://a.test/x", nil, "", 0)()
			r.Close = true
			return r
		}},
		{"trailers", func() *http.Request {
			r := mk("POST", "http://a.test/x", nil, "abc", -1)()
			r.Trailer = http.Header{"X-Sum": {"1"}}
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compareWrites(t, c.mk) })
	}
}

// FuzzWriteRequestAsNetHTTP: requests made of fuzzed parts are written
// the same by writeRequest as by Request.Write.
func FuzzWriteRequestAsNetHTTP(f *testing.F) {
	f.Add("GET", "/x?q=1", "X-A", "v", "", int64(0))
	f.Add("POST", "/a%2Fb", "Content-Type", "text/plain", "hello", int64(5))
	f.Add("PUT", "/", "User-Agent", "", "abc", int64(2))
	f.Fuzz(func(t *testing.T, method, target, key, value, body string, cl int64) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return
		}
		u.Scheme, u.Host = "http", "a.test"
		compareWrites(t, func() *http.Request {
			req := &http.Request{Method: method, URL: u, Host: "a.test", Header: http.Header{key: {value}}, ContentLength: cl}
			if body != "" || cl != 0 {
				req.Body = io.NopCloser(strings.NewReader(body))
			}
			return req
		})
	})
}

// validMethod: a method net/http would send (a token).
func validMethod(m string) bool {
	if m == "" {
		return true
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
