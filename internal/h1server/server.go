// Package h1server serves HTTP/1.1 on plain TCP with each request read,
// handled and answered on its connection's own goroutine, for the
// gateway's and the mesh's listeners.
//
// net/http's server starts a read of its own for every request once the
// request's body has been read (to notice a client that goes away), and
// then stops it again when the handler returns: a goroutine, a system
// call that answers EAGAIN and a wake-up per request. It also copies the
// handler's headers at WriteHeader and writes the answer through two
// buffers. This server reads requests with net/http's own parser
// (http.ReadRequest, so that what is accepted and refused is net/http's),
// writes answers straight into the connection's buffer, and watches for a
// client that goes away only once a request has taken longer than
// watchAfter.
//
// What it serves differently from net/http's server, on purpose:
//   - a client that closes its connection while its request is handled is
//     noticed (and the request's context cancelled) only after watchAfter,
//     not at once;
//   - headers the handler changes after WriteHeader and before its first
//     Write are not sent (as net/http), but the answer's headers are sent
//     in their map order sorted by name, then the framing headers;
//   - a request's context (requestContext, of this package's own: no
//     allocations of its own, no goroutine for contexts made from it)
//     holds no values, where net/http's holds its server and local
//     address (http.ServerContextKey, http.LocalAddrContextKey).
//
// Connections that begin with HTTP/2's preface (h2c with prior knowledge,
// as gRPC clients speak it) are handed to a net/http server with the same
// handler. With a TLSConfig every connection is TLS: one whose handshake
// chose HTTP/2 ("h2" by ALPN) is handed to net/http too, and the others
// are HTTP/1.1 served here.
package h1server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/internal/rawio"
)

// Server serves HTTP/1.1 and, handed to net/http, h2c. Set its fields
// before Serve; it is safe for concurrent use after that.
type Server struct {
	// Handler answers every request.
	Handler http.Handler
	// ReadHeaderTimeout limits the reading of a request's line and
	// headers, from its first byte (0: no limit).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no request
	// for this long (0: no limit).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and headers (0: 1 MiB, as
	// net/http).
	MaxHeaderBytes int
	// Log receives panics of the handler and failures to accept (nil:
	// slog.Default()); failed TLS handshakes at the debug level.
	Log *slog.Logger
	// TLSConfig, when not nil, makes every connection TLS, its handshake
	// within ReadHeaderTimeout. Its NextProtos, when empty, are "h2" and
	// "http/1.1".
	TLSConfig *tls.Config

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	h2        *http.Server  // h2c connections, made by the first Serve
	handoff   *connListener // what h2 serves
	h2Done    chan struct{} // closed when h2's Serve returns
	tlsConfig *tls.Config   // TLSConfig with its NextProtos, made by the first Serve
	// watchAfter, when not 0, replaces the constant (for tests that need
	// the watch to begin within a millisecond or two).
	watchAfter time.Duration
}

// watchAfter is how long a request runs before its connection is watched
// for the client going away.
const watchAfter = 50 * time.Millisecond

// maxDrain is how much of a request's body the server reads and drops
// when the handler has not read it, to keep the connection (as net/http).
const maxDrain = 256 << 10

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln and serves each on its own goroutine
// until Shutdown or Close. It returns ErrServerClosed then, or the error
// that stopped accepting.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
	}
	s.listeners[ln] = struct{}{}
	if s.h2 == nil {
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		if s.TLSConfig != nil {
			protocols.SetHTTP2(true) // for the *tls.Conn that chose "h2"
			s.tlsConfig = s.TLSConfig.Clone()
			if len(s.tlsConfig.NextProtos) == 0 {
				s.tlsConfig.NextProtos = []string{"h2", "http/1.1"}
			}
		}
		s.h2 = &http.Server{Handler: s.Handler, Protocols: protocols, ReadHeaderTimeout: s.ReadHeaderTimeout,
			IdleTimeout: s.IdleTimeout, ErrorLog: slog.NewLogLogger(s.log().Handler(), slog.LevelWarn)}
		s.handoff = newConnListener(ln.Addr())
		s.h2Done = make(chan struct{})
		go func() {
			defer close(s.h2Done)
			s.h2.Serve(s.handoff)
		}()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors, or a transient failure: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log().Warn("accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, and waits until the
// connections with a request in progress have answered it (each closes
// then), or until ctx ends: then it returns ctx's error and leaves those
// connections to end by themselves. Connections handed to net/http (h2c)
// are shut down by net/http's Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	var h2err error
	h2shut := make(chan struct{})
	go func() {
		defer close(h2shut)
		if h2 := s.h2server(); h2 != nil {
			h2err = h2.Shutdown(ctx)
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			<-h2shut
			return h2err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops accepting and closes every connection at once.
func (s *Server) Close() error {
	s.stopAccepting()
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	if h2 := s.h2server(); h2 != nil {
		return h2.Close()
	}
	return nil
}

func (s *Server) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	if s.handoff != nil {
		s.handoff.Close()
	}
}

func (s *Server) h2server() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h2
}

// closeIdle closes the connections that wait for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) watchPeriod() time.Duration {
	if s.watchAfter > 0 {
		return s.watchAfter
	}
	return watchAfter
}

func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return http.DefaultMaxHeaderBytes
}

// The states of a connection, for Shutdown.
const (
	stateActive int32 = iota // reading or answering a request
	stateIdle                // waiting for the next request
	stateClosed              // closed by Shutdown while idle
)

// conn is one client connection. Only its own goroutine (serve) reads
// and writes it, but for the watcher (watch.go), which reads it while a
// handler runs and no one else does.
type conn struct {
	srv        *Server
	nc         net.Conn // the client's connection (tc when it is TLS)
	tc         *tls.Conn
	tlsState   *tls.ConnectionState // tc's, once its handshake is done (every request's TLS)
	raw        io.ReadWriter        // nc's reads and writes as raw system calls (rawio)
	cr         connReader
	br         *bufio.Reader
	bw         *bufio.Writer
	remoteAddr string
	state      atomic.Int32
	hijacked   bool
	// headDeadline: ReadHeaderTimeout's deadline is set for the request
	// being read (waitForRequest), to be cleared once it is.
	headDeadline bool
	watch        watcher
	headBuf      []byte      // the answer's head, reused from one request to the next
	pendingBuf   []byte      // see response.pending
	fields       []field     // the answer's header fields, sorted (reused)
	header       http.Header // the answer header map for the next request (answerHeader)
	lastMethod   string      // the method of the request before
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, remoteAddr: nc.RemoteAddr().String()}
	if s.tlsConfig != nil {
		// TLS records are read and written with raw system calls too.
		c.tc = tls.Server(rawio.NetConn(nc), s.tlsConfig)
		c.nc = c.tc
	}
	c.raw = rawio.New(c.nc)
	c.cr.c = c
	c.br = bufio.NewReaderSize(&c.cr, 4096)
	c.bw = bufio.NewWriterSize(c.raw, 4096)
	c.watch.init(c)
	return c
}

var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// serve reads and answers the connection's requests until it closes.
func (c *conn) serve() {
	defer func() {
		if c.hijacked {
			return // (forgotten at Hijack, or handed to h2)
		}
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			c.srv.log().Error("http: panic serving", "remote", c.remoteAddr, "panic", p, "stack", string(debug.Stack()))
		}
		c.nc.Close()
		c.srv.forget(c)
	}()
	if c.tc != nil {
		if !c.handshake() {
			return
		}
		if c.tlsState.NegotiatedProtocol == "h2" {
			c.handToH2()
			return
		}
	}
	first := c.tc == nil // (over TLS, HTTP/2 is chosen by ALPN only, as net/http has it)
	for {
		if !c.waitForRequest() {
			return
		}
		if first {
			first = false
			if c.h2Preface() {
				c.handToH2()
				return
			}
		}
		if !c.serveRequest() || c.srv.closing.Load() {
			return
		}
	}
}

// handshake makes the TLS handshake, the connection idle meanwhile (for
// Shutdown), within ReadHeaderTimeout, and reports whether it succeeded.
func (c *conn) handshake() bool {
	if !c.state.CompareAndSwap(stateActive, stateIdle) {
		return false
	}
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		c.nc.SetDeadline(time.Now().Add(d))
	}
	err := c.tc.Handshake()
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false
	}
	if err != nil {
		if re, ok := err.(tls.RecordHeaderError); ok && re.Conn != nil && plainHTTP(re.RecordHeader) {
			// As net/http answers it: the client is told what it did.
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		c.srv.log().Debug("tls handshake", "remote", c.remoteAddr, "err", err)
		return false
	}
	c.nc.SetDeadline(time.Time{})
	st := c.tc.ConnectionState()
	c.tlsState = &st
	return true
}

// plainHTTP reports whether what came as a TLS record's header looks like
// the start of a plain HTTP request (net/http's test).
func plainHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// waitForRequest waits for the first byte of the next request, the
// connection idle meanwhile, and reports whether one came.
func (c *conn) waitForRequest() bool {
	if c.br.Buffered() == 0 {
		if !c.state.CompareAndSwap(stateActive, stateIdle) {
			return false
		}
		if c.srv.closing.Load() { // Shutdown may have looked before the state was idle
			return false
		}
		if d := c.srv.IdleTimeout; d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(d))
		}
		_, err := c.br.Peek(1)
		if !c.state.CompareAndSwap(stateIdle, stateActive) || err != nil {
			return false
		}
	}
	if d := c.srv.ReadHeaderTimeout; d > 0 && !c.headWhole() {
		c.nc.SetReadDeadline(time.Now().Add(d))
		c.headDeadline = true
	} else if c.srv.IdleTimeout > 0 {
		c.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// headWhole reports, without a search, whether a whole request head is
// in the buffer, so that reading it needs no read of the connection nor
// ReadHeaderTimeout's deadline: what is buffered begins with a request
// line (not the blank lines a client may send before one, nor the start
// of HTTP/2's preface, which goes on after its blank line) and ends with
// the blank line that ends a head. (A head that arrived with more behind
// it, a body or the next request, is read under the deadline.)
func (c *conn) headWhole() bool {
	buf, _ := c.br.Peek(c.br.Buffered())
	return len(buf) >= 4 && buf[0] != '\r' && buf[0] != '\n' && !bytes.HasPrefix(buf, []byte("PRI ")) &&
		bytes.HasSuffix(buf, []byte("\r\n\r\n"))
}

// h2Preface reports whether the connection begins with HTTP/2's
// preface. It reads more than what is buffered only while that is the
// beginning of the preface: an HTTP/1 request shorter than the preface
// is not waited on.
func (c *conn) h2Preface() bool {
	got, _ := c.br.Peek(c.br.Buffered())
	n := min(len(got), len(h2Preface))
	if !bytes.Equal(got[:n], h2Preface[:n]) {
		return false
	}
	got, err := c.br.Peek(len(h2Preface))
	return err == nil && bytes.Equal(got, h2Preface)
}

// handToH2 gives the connection, with what was read of it, to net/http:
// a TLS connection as it is, after its handshake (net/http serves a
// *tls.Conn that chose "h2" as HTTP/2).
func (c *conn) handToH2() {
	c.hijacked = true // this goroutine no longer owns it
	c.srv.forget(c)
	var given net.Conn = c.tc
	if c.tc == nil {
		buffered, _ := c.br.Peek(c.br.Buffered())
		given = &prefixedConn{Conn: c.nc, prefix: bytes.Clone(buffered)}
	}
	c.nc.SetReadDeadline(time.Time{})
	if !c.srv.handoff.give(given) {
		c.nc.Close()
	}
}

// errorAnswer is what a request that cannot be read gets, before the
// connection closes: net/http's answer for the same fault. The
// connection is then closed for writing and kept for a moment, so that
// the client reads the answer rather than a reset (net/http does so for
// a head too large only).
func (c *conn) errorAnswer(err error) {
	status, body := "400 Bad Request", ""
	var bad badRequest
	switch {
	case c.cr.hitLimit:
		status = "431 Request Header Fields Too Large"
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
		status, body = "501 Not Implemented", "Unsupported transfer encoding"
	case errors.As(err, &bad):
		status = string(bad)
	}
	if body == "" {
		body = status
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.nc, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", status, body)
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(rstAvoidance))
		io.Copy(io.Discard, io.LimitReader(c.nc, 1<<20))
	}
}

// rstAvoidance is how long a connection is read, and what is read
// dropped, after an error answer, before it closes.
const rstAvoidance = 500 * time.Millisecond

// connReader reads the connection for the connection's bufio.Reader: at
// most remain bytes while a request's head is read, and first the byte
// the watcher read, if it read one.
type connReader struct {
	c        *conn
	limited  bool
	remain   int64
	hitLimit bool
	stashed  bool
	stash    byte
}

func (cr *connReader) Read(p []byte) (int, error) {
	if cr.limited {
		if cr.remain <= 0 {
			cr.hitLimit = true
			return 0, errHeadTooLarge
		}
		if int64(len(p)) > cr.remain {
			p = p[:cr.remain]
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cr.stashed {
		cr.stashed = false
		p[0] = cr.stash
		cr.remain--
		return 1, nil
	}
	n, err := cr.c.raw.Read(p)
	cr.remain -= int64(n)
	return n, err
}

var errHeadTooLarge = errors.New("h1server: request head too large")

// prefixedConn is a connection whose first bytes were read already.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (pc *prefixedConn) Read(p []byte) (int, error) {
	if len(pc.prefix) > 0 {
		n := copy(p, pc.prefix)
		pc.prefix = pc.prefix[n:]
		return n, nil
	}
	return pc.Conn.Read(p)
}

// connListener is a net.Listener of the connections handed to it.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands nc to the listener's Accept; false once it is closed.
func (l *connListener) give(nc net.Conn) bool {
	select {
	case l.conns <- nc:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

var _ io.Reader = (*connReader)(nil)
