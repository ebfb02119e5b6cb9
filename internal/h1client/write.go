package h1client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"golang.org/x/net/http/httpguts"

	"github.com/tuskcompose/composer/internal/h1head"
)

// writeRequest writes req on bw as net/http's Request.Write does (and
// closes its body, as it does), itself for the requests a gateway sends
// most: no body, or one of known length, without trailers. Every other
// request goes through Request.Write. It writes the headers in their map
// order where Request.Write sorts them, and does not copy them first.
//
// It calls mayBlock before it writes what may wait for the host to read:
// a body, a head that does not fit in bw's buffer, or anything
// Request.Write writes.
func writeRequest(bw *bufio.Writer, req *http.Request, mayBlock func()) error {
	hasBody := req.Body != nil && req.Body != http.NoBody
	if !plainFraming(req, hasBody) {
		mayBlock()
		return req.Write(bw)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !asciiHost(host) {
		mayBlock()
		return req.Write(bw)
	}
	if hasBody {
		defer req.Body.Close()
	}
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if containsCTL(path) || containsCTL(req.URL.RawQuery) {
		return errors.New("net/http: can't write control character in Request.URL")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	// The head is made in bw's free space: written at once when it fits.
	b := bw.AvailableBuffer()
	room := cap(b)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	if req.URL.RawQuery != "" || req.URL.ForceQuery {
		b = append(b, '?')
		b = append(b, req.URL.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	switch {
	case req.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...) // as net/http: these say they have no body
	}
	// Go's User-Agent where the request has none; one of its own, or none
	// when that is empty, where it has one (as Request.Write), in the
	// header's pass.
	userAgent := false
	for k, vv := range req.Header {
		switch k {
		case "User-Agent":
			userAgent = true
			if len(vv) > 0 && vv[0] != "" {
				b = h1head.AppendField(b, "User-Agent", vv[0])
			}
			continue
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !h1head.Token(k) {
			continue // dropped, as Request.Write drops it
		}
		for _, v := range vv {
			b = h1head.AppendField(b, k, v)
		}
	}
	if !userAgent {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	b = append(b, "\r\n"...)
	if hasBody || len(b) > room {
		mayBlock()
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	if !hasBody {
		return nil
	}
	n, err := io.Copy(bw, io.LimitReader(req.Body, req.ContentLength))
	if err != nil {
		return err
	}
	extra, err := io.Copy(io.Discard, req.Body)
	if err != nil {
		return err
	}
	if n+extra != req.ContentLength {
		return fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n+extra)
	}
	return nil
}

// plainFraming says whether writeRequest frames req itself: a body of
// known length or none, no trailers, no Connection: close to add, not
// CONNECT, a URL of a path.
func plainFraming(req *http.Request, hasBody bool) bool {
	if len(req.Trailer) > 0 || len(req.TransferEncoding) > 0 || req.Close || req.Method == http.MethodConnect || req.URL.Opaque != "" {
		return false
	}
	if hasBody {
		return req.ContentLength > 0
	}
	return req.ContentLength == 0
}

// asciiHost says whether host can be written as it is: printable ASCII
// that net/http would not rewrite (no IPv6 zone, valid as a Host header).
func asciiHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return false
		}
	}
	return host != "" && httpguts.ValidHostHeader(host)
}

func containsCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}
