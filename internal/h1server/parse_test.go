package h1server

import (
	"bufio"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// FuzzParsePlainAsReadRequest: whatever head parsePlain takes,
// http.ReadRequest reads the same request from it, and as many bytes; and
// its fields are all valid (check leaves them unchecked for such a head).
func FuzzParsePlainAsReadRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET /x?q=1&r=%20 HTTP/1.0\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\nGET / HTTP/1.1\r\n",
		"HEAD /a%2Fb HTTP/1.1\r\nhost: a.test\r\nx-lower: 1\r\nX-Two: a\r\nX-Two: b\r\n\r\n",
		"DELETE /r HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9\r\nX-Ctl: a\x01b\r\n\r\n",
		"GET /a-b_c.d~e/$&+,:;=@/A9 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a!b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a(b)*'c HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET //x/%41?q#f HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		br.Peek(1) // fill the buffer, as a connection's read does
		got, n := parsePlain(context.Background(), br, nil)
		if got == nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReaderSize(strings.NewReader(raw[:n]), 4096))
		if err != nil {
			t.Fatalf("parsePlain took %q, ReadRequest refuses it: %v", raw[:n], err)
		}
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"method", got.Method, want.Method}, {"URL", got.URL, want.URL}, {"proto", got.Proto, want.Proto},
			{"minor", got.ProtoMinor, want.ProtoMinor}, {"header", got.Header, want.Header}, {"host", got.Host, want.Host},
			{"close", got.Close, want.Close}, {"length", got.ContentLength, want.ContentLength},
			{"transfer encoding", got.TransferEncoding, want.TransferEncoding}, {"body", got.Body, want.Body},
			{"request URI", got.RequestURI, want.RequestURI}, {"trailer", got.Trailer, want.Trailer},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%q: %s %#v, ReadRequest %#v", raw[:n], c.name, c.got, c.want)
			}
		}
		if err := check(want, true); err != nil && check(want, false) == nil {
			t.Errorf("%q: parsePlain took fields that check refuses: %v", raw[:n], err)
		}
		// ReadRequest would have read no more than the head.
		rest := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		if _, err := http.ReadRequest(rest); err == nil && rest.Buffered() != len(raw)-n {
			t.Errorf("%q: parsePlain took %d bytes, ReadRequest %d", raw, n, len(raw)-rest.Buffered())
		}
	})
}

// TestParsePlainTakesCommonRequests: the requests a gateway sees most
// take the plain path (were they to fall back, nothing would be wrong,
// but the fast path would be dead).
func TestParsePlainTakesCommonRequests(t *testing.T) {
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
		"GET /users/1?fields=name HTTP/1.1\r\nHost: a.test\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
	} {
		br := bufio.NewReader(strings.NewReader(raw))
		br.Peek(1)
		if req, n := parsePlain(context.Background(), br, nil); req == nil || n != len(raw) {
			t.Errorf("%q fell back", raw)
		}
	}
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", // a body
		"GET / HTTP/1.1\r\nHost: a\r\n",                            // not all of the head
		"GET / HTTP/1.1\nHost: a\n\n",                              // bare line feeds
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",                // absolute form
		"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",      // obs-text
	} {
		br := bufio.NewReader(strings.NewReader(raw))
		br.Peek(1)
		if req, _ := parsePlain(context.Background(), br, nil); req != nil {
			t.Errorf("%q took the plain path", raw)
		}
	}
}

// TestPlainHeadIsOneString: a plain request's target, Host and header
// values are slices of one copy of its head (one allocation, not one for
// the target and one for the header lines).
func TestPlainHeadIsOneString(t *testing.T) {
	raw := "GET /api/users/42 HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\n\r\n"
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	br.Peek(1)
	req, _ := parsePlain(context.Background(), br, nil)
	if req == nil {
		t.Fatal("parsePlain refused a plain request")
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(req.RequestURI))) - uintptr(strings.Index(raw, "/api"))
	for name, s := range map[string]string{"the target": req.URL.Path, "Host": req.Host, "Accept": req.Header.Get("Accept")} {
		if at := uintptr(unsafe.Pointer(unsafe.StringData(s))); at != base+uintptr(strings.Index(raw, s)) {
			t.Errorf("%s (%q) is not in the copy of the head the target is in", name, s)
		}
	}
}
