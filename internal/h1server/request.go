package h1server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// badRequest is a request refused before its handler, with the status
// line's text of the answer (as net/http's server words it).
type badRequest string

func (b badRequest) Error() string { return string(b) }

// serveRequest reads one request, hands it to the handler and finishes
// its answer. It reports whether the connection can carry another.
func (c *conn) serveRequest() bool {
	c.cr.limited, c.cr.remain, c.cr.hitLimit = true, c.srv.maxHeaderBytes()+4096, false
	if c.lastMethod == http.MethodPost {
		// Some clients end a POST's body with a line break more than it
		// has: dropped, as net/http's server drops it.
		peek, _ := c.br.Peek(4)
		n := 0
		for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
			n++
		}
		c.br.Discard(n)
	}
	// The request's context ends with the request (or before it, the
	// client gone): nothing outlives it on the connection, so it needs no
	// parent of the connection's, whose cancellation would only cost a
	// registration of each request with it (requestContext).
	x := new(requestAlloc)
	defer x.ctx.cancel()
	req, plain, err := readRequest(&x.ctx, c.br, &x.store)
	c.cr.limited = false
	if err == nil {
		err = check(req, !plain)
	}
	if err != nil {
		if !quietReadError(err) || c.cr.hitLimit {
			c.errorAnswer(err)
		}
		return false
	}
	if c.headDeadline {
		c.nc.SetReadDeadline(time.Time{})
		c.headDeadline = false
	}
	req.RemoteAddr, req.TLS = c.remoteAddr, c.tlsState
	c.lastMethod = req.Method

	w := &x.w
	*w = response{c: c, req: req, header: c.answerHeader(), contentLength: -1, reqConn: x.store.connection}
	switch expect := get(req.Header, "Expect"); {
	case expect != "" && !hasToken(expect, "100-continue"):
		w.header.Set("Connection", "close")
		w.WriteHeader(http.StatusExpectationFailed)
		w.finish()
		return false
	case req.Body == http.NoBody:
	case expect != "" && req.ProtoAtLeast(1, 1):
		w.body = &requestBody{rc: req.Body, w: w, expect: true}
		w.canContinue.Store(true)
		req.Body = w.body
	default:
		w.body = &requestBody{rc: req.Body, w: w}
		req.Body = w.body
	}
	if w.body == nil {
		c.watch.arm(&x.ctx)
	}
	c.srv.Handler.ServeHTTP(w, req)
	if w.body == nil {
		c.watch.disarm()
	}
	if c.hijacked {
		return false
	}
	again := w.finish() && !c.watch.gone
	c.keepAnswerHeader(w.header)
	return again
}

// maxKeptFields is the most fields an answer's header map may have had
// to be kept for the connection's next answer: a map grown past one
// group of 8 is let go rather than held by an idle connection.
const maxKeptFields = 8

// answerHeader is the header map of the answer to the request being
// read: the one the connection's answer before used, cleared, or a new
// one. It saves a map and its group per request (two allocations of
// the 13 a proxied request makes). Called by serveRequest only.
func (c *conn) answerHeader() http.Header {
	if h := c.header; h != nil {
		c.header = nil
		return h
	}
	return make(http.Header)
}

// keepAnswerHeader keeps h, the header map of the answer just finished,
// cleared (no handler's values stay alive with an idle connection), for
// the connection's next answer, unless it grew past maxKeptFields.
// Called by serveRequest once the answer has gone; the handler has
// returned, and Header gives goroutines it left maps of their own.
func (c *conn) keepAnswerHeader(h http.Header) {
	if len(h) > maxKeptFields {
		return
	}
	clear(h)
	c.header = h
}

// requestAlloc is a request's context, its answer and what a plain
// request is made of (parsePlain), in one allocation.
type requestAlloc struct {
	ctx   requestContext
	w     response
	store requestStore
}

// check refuses, as net/http's server does, a request that http.ReadRequest
// reads but that no server may take: another version than HTTP/1.x, no
// Host in HTTP/1.1, a malformed Host, and (fields) a header name or value
// that is not allowed.
func check(req *http.Request, fields bool) error {
	if req.ProtoMajor != 1 {
		return badRequest("505 HTTP Version Not Supported: unsupported protocol version")
	}
	// http.ReadRequest has moved the Host header to req.Host (refusing
	// two of them), so an empty Host counts as none here.
	if req.Host == "" && req.ProtoAtLeast(1, 1) && req.Method != "CONNECT" {
		return badRequest("400 Bad Request: missing required Host header")
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return badRequest("400 Bad Request: malformed Host header")
	}
	if !fields {
		return nil
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return badRequest("400 Bad Request: invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return badRequest("400 Bad Request: invalid header value")
			}
		}
	}
	return nil
}

// quietReadError reports whether a failed read of a request is the
// connection's end (the client closed it, or a deadline passed) rather
// than a request to answer with an error.
func quietReadError(err error) bool {
	if err == io.EOF || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// hasToken reports whether the header value v holds token,
// case-insensitively, as a word between spaces, tabs or commas (the test
// net/http's server makes of Connection and Expect).
func hasToken(v, token string) bool {
	for i := 0; i+len(token) <= len(v); i++ {
		if i > 0 && !tokenBoundary(v[i-1]) {
			continue
		}
		if end := i + len(token); end < len(v) && !tokenBoundary(v[end]) {
			continue
		}
		if strings.EqualFold(v[i:i+len(token)], token) {
			return true
		}
	}
	return false
}

func tokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// requestBody is a request's body as the handler reads it: it notes its
// end, and sends `100 Continue` before the first read when the client
// asked for it. It may be read from another goroutine than the handler's;
// mu is held during a read, as net/http's body does.
type requestBody struct {
	rc     io.ReadCloser
	w      *response
	expect bool // the client waits for 100 Continue before it sends the body
	mu     sync.Mutex
	sawEOF bool
	closed bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.expect {
		b.w.writeContinue()
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

// Close ends the handler's reading; what is left is drained, or not, when
// the answer is committed (drain).
func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// drain reads and drops what the handler left of the body, at most
// maxDrain bytes, and reports whether the body was then read to its end,
// so that the connection can carry another request. As net/http's server,
// it does not drain a body the handler closed, nor one that waited for
// 100 Continue: the client has not sent (all of) it.
func (b *requestBody) drain() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sawEOF {
		return true
	}
	if b.closed || b.expect {
		return false
	}
	_, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	if err == io.EOF {
		b.sawEOF = true
	}
	return b.sawEOF
}
