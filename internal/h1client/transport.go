// Package h1client is an HTTP/1.1 client transport for plain-http
// upstreams that makes each call on the caller's goroutine: it writes the
// request and reads the answer itself, on a pooled keep-alive connection.
//
// net/http's Transport hands every call to two goroutines of the
// connection (one writes, one reads) and back. At one request at a time
// the process goes idle and wakes up between those handoffs, and on a
// virtual machine each wake-up costs tens of microseconds: a gateway on
// http.Transport adds about 1.6 times the latency nginx adds, and one on
// this transport about 1.2 times (docs/benchmarks.md). It also carries
// about 40% more requests per second on one core.
//
// What this transport does not do it hands to Fallback, unchanged:
// https and other schemes, protocol upgrades (WebSocket) and
// `Expect: 100-continue`.
package h1client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/h1head"
	"github.com/tuskcompose/composer/internal/rawio"
)

// Transport is an http.RoundTripper for http:// URLs. Its zero value is
// usable; it is safe for concurrent use.
type Transport struct {
	// DialContext opens connections (nil: a net.Dialer with a 5 s
	// timeout and 30 s TCP keep-alives).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdleConnsPerHost is how many idle connections are kept per
	// host:port (0: 256).
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes connections idle longer than this (0: 90 s).
	IdleConnTimeout time.Duration
	// ResponseHeaderTimeout limits the wait for the answer's headers once
	// the request is written (0: no limit). Reaching it is an error whose
	// Timeout() is true.
	ResponseHeaderTimeout time.Duration
	// Fallback makes the calls this transport does not (nil:
	// http.DefaultTransport).
	Fallback http.RoundTripper

	mu   sync.Mutex
	idle map[string]*idleConns // per host:port
}

// conn is a keep-alive connection to one host.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
	// readDeadline is the one last set (a call that needs no further
	// read leaves it: the next call sets its own).
	readDeadline time.Time
	interrupt    func() // sets the deadline in the past, made once
}

func newConn(nc net.Conn) *conn {
	raw := rawio.New(nc) // (the reads and writes without the scheduler's syscall bookkeeping)
	c := &conn{nc: nc, br: bufio.NewReaderSize(raw, 4<<10), bw: bufio.NewWriterSize(raw, 4<<10)}
	c.interrupt = func() { c.nc.SetDeadline(time.Unix(1, 0)) }
	return c
}

// earlyDeadline is the deadline of a call's wait for its answer before
// the watch is armed: d, or the connection's deadline when that comes no
// later than d and no sooner than half of watchAfter after start. Passing
// such a deadline only makes the call arm its watch (a little sooner
// than watchAfter), so the one the previous call left serves, and a call
// on a busy connection sets no timer (a deadline's timer costs about 2 %
// of a proxied request's instructions).
func (c *conn) earlyDeadline(start, d time.Time) time.Time {
	if cur := c.readDeadline; !cur.IsZero() && !cur.After(d) && !cur.Before(start.Add(watchAfter/2)) {
		return cur
	}
	return d
}

// setReadDeadline sets the connection's read deadline, unless it is set
// so already.
func (c *conn) setReadDeadline(d time.Time) error {
	if d.Equal(c.readDeadline) {
		return nil
	}
	c.readDeadline = d
	return c.nc.SetReadDeadline(d)
}

// RoundTrip sends req and returns the answer. The connection goes back to
// the pool when the answer's body has been read to its end; a body closed
// before its end closes the connection.
//
// A call on a pooled connection that the host has closed meanwhile is made
// again on a new connection when nothing of an answer was read and the
// request can be sent twice: an idempotent method, or an Idempotency-Key
// header, and a body that is empty or can be had again (GetBody). Other
// requests are only sent on pooled connections that are still open.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, false)
}

// RoundTripLines is RoundTrip for a caller that sends an answer's header
// lines on as they are when they can be (a proxy): the answer's Header is
// nil when its lines are tidy and its Connection field (if any) names
// none of its other fields (h1head: none of Untidy, HasNamedHop,
// HasTransferEncoding), and they are its body's Head (its connection's
// own fields among them: h1head.EndToEnd leaves them out); the caller
// that needs the header after all makes it from them
// (h1head.FieldsText). Every other answer is RoundTrip's.
func (t *Transport) RoundTripLines(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, true)
}

func (t *Transport) roundTrip(req *http.Request, lines bool) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback().RoundTrip(req)
	}
	ctx := req.Context()
	addr := hostPort(req)
	replayable := replayable(req)
	for {
		c, reused, err := t.get(ctx, addr, !replayable)
		if err != nil {
			return nil, err
		}
		resp, err := t.call(ctx, c, req, addr, lines)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !reused || !replayable || !closedBeforeAnswer(err) {
			return nil, err
		}
		if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r := *req
			r.Body = body
			req = &r
		}
	}
}

// handles says whether the call is one for this transport.
func (t *Transport) handles(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	if up := req.Header["Upgrade"]; len(up) > 0 && up[0] != "" {
		return false
	}
	if ex := req.Header["Expect"]; len(ex) > 0 && strings.EqualFold(ex[0], "100-continue") {
		return false
	}
	return true
}

func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback != nil {
		return t.Fallback
	}
	return http.DefaultTransport
}

// watchAfter is how long a call waits for its answer before it watches
// the caller's cancellation (context.AfterFunc, which costs a tenth of a
// proxied request's instructions). Until then the connection's read
// deadline bounds the wait: a caller cancelled meanwhile is noticed when
// it passes, at most this late, and a context's own deadline is the read
// deadline when it comes first. A call whose write may block (a request
// with a body, a head larger than the connection's buffer) and an answer
// whose body is not all read with its head are watched from the start.
const watchAfter = 50 * time.Millisecond

// call writes req on c, a connection to addr (hostPort(req)), and reads
// the answer's headers.
func (t *Transport) call(ctx context.Context, c *conn, req *http.Request, addr string, lines bool) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := watch{ctx: ctx, c: c}
	if err := writeRequest(c.bw, req, w.arm); err != nil {
		w.stop()
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		w.stop()
		return nil, err
	}
	start := time.Now()
	var headDeadline time.Time // ResponseHeaderTimeout's; zero: none
	if t.ResponseHeaderTimeout > 0 {
		headDeadline = start.Add(t.ResponseHeaderTimeout)
	}
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	// Waiting for the first byte tells a connection the host closed
	// before answering (io.EOF) from one that broke in an answer.
	for {
		d := headDeadline
		if !w.armed {
			if early := start.Add(watchAfter); d.IsZero() || early.Before(d) {
				d = early
			}
			if hasCtxDeadline && ctxDeadline.Before(d) {
				d = ctxDeadline
			}
			d = c.earlyDeadline(start, d)
		}
		if err := w.setReadDeadline(d); err != nil {
			w.stop()
			return nil, err
		}
		_, err := c.br.Peek(1)
		if err == nil {
			break
		}
		if w.armed || !isTimeout(err) || d.Equal(headDeadline) {
			w.stop()
			return nil, err
		}
		// The read's own deadline, before the answer began.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if hasCtxDeadline && !time.Now().Before(ctxDeadline) {
			return nil, context.DeadlineExceeded
		}
		w.arm()
	}
	var resp *http.Response
	var spare *body // (a plain answer's, allocated with it)
	for {
		if !w.armed && !headBuffered(c.br) {
			// The rest of the head is to be read from the connection.
			w.arm()
			if err := w.setReadDeadline(headDeadline); err != nil {
				w.stop()
				return nil, err
			}
		}
		var err error
		resp, spare, err = readResponse(c.br, req, lines)
		if err != nil {
			w.stop()
			return nil, err
		}
		// 1xx answers are informational: the answer follows them. (A
		// 101 ends the exchange; upgrades go to the fallback, so it is
		// an answer the connection cannot be kept after.)
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if w.armed || !bodyBuffered(c.br, resp) {
		// The body is read from the connection, for as long as it takes.
		w.arm()
		if err := w.setReadDeadline(time.Time{}); err != nil {
			w.stop()
			return nil, err
		}
	} // (else the deadline stays, for no read: the next call sets its own)
	keep := !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	b := spare
	if b == nil {
		b = new(body)
	}
	*b = body{t: t, c: c, addr: addr, stop: w.stopFunc(), keep: keep, rc: resp.Body, head: b.head, seen: b.seen}
	if resp.Body == http.NoBody {
		b.release(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// watch is a call's watch of its caller's cancellation, armed at most
// once; a cancellation then sets the connection's deadline in the past,
// interrupting whatever it is doing.
type watch struct {
	ctx   context.Context
	c     *conn
	armed bool
	stopf func() bool
}

func (w *watch) arm() {
	if w.armed {
		return
	}
	w.armed = true
	if w.ctx.Done() != nil {
		w.stopf = context.AfterFunc(w.ctx, w.c.interrupt)
	}
}

// setReadDeadline sets the connection's read deadline. Once the watch is
// armed, a caller cancelled before is an error: the deadline set may
// have replaced the one its cancellation set.
func (w *watch) setReadDeadline(d time.Time) error {
	if err := w.c.setReadDeadline(d); err != nil {
		return err
	}
	if w.armed {
		return w.ctx.Err()
	}
	return nil
}

// stop disarms the watch, and reports whether the cancellation had not
// interrupted the connection.
func (w *watch) stop() bool { return w.stopFunc()() }

// stopFunc is stop as a function, for the answer's body to call.
func (w *watch) stopFunc() func() bool {
	if w.stopf == nil {
		return alwaysStopped
	}
	return w.stopf
}

func alwaysStopped() bool { return true }

// headBuffered reports whether a whole head is in br's buffer.
func headBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	_, _, _, ok := h1head.Split(buf)
	return ok
}

// bodyBuffered reports whether an answer's body needs no read of the
// connection: it has none, or its length is in br's buffer.
func bodyBuffered(br *bufio.Reader, resp *http.Response) bool {
	if resp.Body == http.NoBody {
		return true
	}
	_, ok := resp.Body.(*lengthBody)
	return ok && resp.ContentLength <= int64(br.Buffered())
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// body is an answer's body; the connection is released at its end.
type body struct {
	t    *Transport
	c    *conn // nil once released
	addr string
	stop func() bool
	keep bool
	rc   io.ReadCloser
	mu   sync.Mutex
	head string     // a plain answer's header lines, as read (parsePlain's)
	seen h1head.Has // what h1head.Fields saw of them
}

// Head is the block of header lines of the answer whose body b is, as
// the instance sent them (each with its CRLF), and what h1head.Fields saw
// of them; "" for an answer that was not plain (read by net/http). A
// proxy may send tidy lines on as they are instead of writing the header
// out again. The text stays valid after the body is read.
func (b *body) Head() (string, h1head.Has) { return b.head, b.seen }

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.release(err == io.EOF)
	}
	return n, err
}

// Close ends the body; before its end, by closing the connection, so
// that nothing waits for the rest.
func (b *body) Close() error {
	b.release(false)
	return b.rc.Close()
}

// release gives the connection back to the pool (reuse, and the answer
// allows it) or closes it. Only the first call does anything.
func (b *body) release(reuse bool) {
	b.mu.Lock()
	c := b.c
	b.c = nil
	b.mu.Unlock()
	if c == nil {
		return
	}
	// stop is false when the caller's cancellation has fired and set the
	// connection's deadline: such a connection is not reused.
	if b.stop() && reuse && b.keep {
		b.t.put(b.addr, c)
		return
	}
	c.nc.Close()
}

// get returns an idle connection to addr, or a new one. With checkOpen,
// an idle connection is first checked for having been closed by the host.
func (t *Transport) get(ctx context.Context, addr string, checkOpen bool) (c *conn, reused bool, err error) {
	now := time.Now()
	t.mu.Lock()
	for idle := t.idle[addr]; idle != nil; {
		n := len(idle.list)
		if n == 0 {
			break
		}
		c = idle.list[n-1]
		idle.list[n-1] = nil
		idle.list = idle.list[:n-1]
		if checkOpen && c.setReadDeadline(time.Time{}) != nil { // (a deadline passed fails the check)
			c.nc.Close()
			continue
		}
		if now.Sub(c.idleFrom) > t.idleTimeout() || checkOpen && !stillOpen(c.nc) {
			c.nc.Close()
			continue
		}
		t.mu.Unlock()
		return c, true, nil
	}
	t.mu.Unlock()
	nc, err := t.dial(ctx, addr)
	if err != nil {
		return nil, false, err
	}
	return newConn(nc), false, nil
}

// put returns c to the pool, closing it when the pool is full, and closes
// the pool's connections that have been idle too long.
func (t *Transport) put(addr string, c *conn) {
	c.idleFrom = time.Now()
	max := t.MaxIdleConnsPerHost
	if max <= 0 {
		max = 256
	}
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string]*idleConns{}
	}
	idle := t.idle[addr]
	if idle == nil {
		idle = new(idleConns)
		t.idle[addr] = idle
	}
	list := idle.list
	// The oldest connections are first.
	expired := 0
	for expired < len(list) && c.idleFrom.Sub(list[expired].idleFrom) > t.idleTimeout() {
		list[expired].nc.Close()
		expired++
	}
	if expired > 0 {
		list = append(list[:0], list[expired:]...)
	}
	if len(list) >= max {
		idle.list = list
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	idle.list = append(list, c)
	t.mu.Unlock()
}

// idleConns are the idle connections to one host:port, the most recently
// used last: in the pool's map by pointer, so that taking one out or
// putting one back changes the list, not the map.
type idleConns struct{ list []*conn }

// CloseIdleConnections closes the connections in the pool.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns.list {
			c.nc.Close()
		}
	}
	if ci, ok := t.fallback().(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout > 0 {
		return t.IdleConnTimeout
	}
	return 90 * time.Second
}

func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	if t.DialContext != nil {
		return t.DialContext(ctx, "tcp", addr)
	}
	return defaultDialer.DialContext(ctx, "tcp", addr)
}

var defaultDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// hostPort is the address a request goes to: its URL's host, with port
// 80 when it names none.
func hostPort(req *http.Request) string {
	if req.URL.Port() != "" {
		return req.URL.Host
	}
	return net.JoinHostPort(req.URL.Hostname(), "80")
}

// replayable says whether req may be sent again after a connection
// failed before any answer: the rules net/http's Transport follows.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// closedBeforeAnswer says whether err is a connection the host had closed:
// it ended or was reset before any byte of an answer.
func closedBeforeAnswer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err)
}
