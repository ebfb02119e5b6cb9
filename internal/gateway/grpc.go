package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/breaker"
)

// GRPCCodes are gRPC's status codes, by number, named as a platform file
// writes them (failure_codes, retry_on).
var GRPCCodes = [...]string{"ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
	"already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
	"unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"}

// GRPCDefaults are the gRPC settings of a service that sets none: the
// one place they are written. The server's trouble is a failure; OK,
// the client's own CANCELLED and the caller's errors are not; only
// UNAVAILABLE (the call did not start) is tried again.
var GRPCDefaults = GRPC{
	FailureCodes: []string{"unknown", "deadline_exceeded", "internal", "unavailable", "data_loss"},
	RetryOn:      []string{"unavailable"},
}

// GRPC is how the calls of a gRPC service are judged and bounded. The
// JSON names are the platform file's keys.
type GRPC struct {
	// FailureCodes are the status codes that count as a failure, for the
	// breaker and the outlier ejection (transport errors always do).
	FailureCodes []string `json:"failure_codes"`
	// RetryOn are the status codes of a Trailers-Only answer that are
	// tried again (within retries), honouring grpc-retry-pushback-ms.
	RetryOn []string `json:"retry_on"`
	// StreamTimeout bounds every call's life, streams included (0: none);
	// passed on in grpc-timeout when it is the shorter.
	StreamTimeout time.Duration `json:"stream_timeout"`
}

// CodeSet is a set of gRPC status codes, bit n for code n.
type CodeSet uint32

// Has reports whether code is in the set.
func (s CodeSet) Has(code int) bool { return code >= 0 && code < 32 && s&(1<<code) != 0 }

// ParseCodes is the set of the named codes (GRPCCodes' names, any case,
// or numbers 0 to 16); the error names the first it does not know.
func ParseCodes(names []string) (CodeSet, error) {
	var s CodeSet
	for _, name := range names {
		code, ok := CodeOf(name)
		if !ok {
			return 0, fmt.Errorf("unknown gRPC status code %q", name)
		}
		s |= 1 << code
	}
	return s, nil
}

// CodeOf is the number of a gRPC status code's name (or number).
func CodeOf(name string) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n >= 0 && n < len(GRPCCodes)
	}
	for i, c := range GRPCCodes {
		if strings.EqualFold(c, name) {
			return i, true
		}
	}
	return 0, false
}

// Policy compiles the settings for an Upstream; names that do not parse
// are left out (Validate reports them).
func (g GRPC) Policy() *GRPCPolicy {
	p := &GRPCPolicy{StreamTimeout: g.StreamTimeout}
	for _, n := range g.FailureCodes {
		if c, ok := CodeOf(n); ok {
			p.Failures |= 1 << c
		}
	}
	for _, n := range g.RetryOn {
		if c, ok := CodeOf(n); ok {
			p.RetryOn |= 1 << c
		}
	}
	return p
}

// GRPCPolicy is an Upstream's compiled gRPC settings.
type GRPCPolicy struct {
	Failures, RetryOn CodeSet
	StreamTimeout     time.Duration
}

// outcome is what a call's grpc-status means to the breaker: a code of
// Failures is a failure; CANCELLED, the client giving up, is nothing
// (unless Failures names it); any other code is a success. A status that
// is not a number is UNKNOWN's.
func (p *GRPCPolicy) outcome(status string) breaker.Outcome {
	code, err := strconv.Atoi(status)
	if err != nil {
		code = 2
	}
	switch {
	case p.Failures.Has(code):
		return breaker.Failure
	case code == 1:
		return breaker.Ignored
	}
	return breaker.Success
}

// retry reports whether a Trailers-Only answer may be tried again: its
// code is one of RetryOn and its grpc-retry-pushback-ms, if any, is not
// negative (the server's "do not retry").
func (p *GRPCPolicy) retry(resp *http.Response) bool {
	code, err := strconv.Atoi(resp.Header.Get("Grpc-Status"))
	if err != nil || !p.RetryOn.Has(code) {
		return false
	}
	if push := resp.Header.Get("Grpc-Retry-Pushback-Ms"); push != "" {
		ms, err := strconv.Atoi(push)
		return err == nil && ms >= 0
	}
	return true
}

// pushback is the wait a failed gRPC answer asks for in
// grpc-retry-pushback-ms.
func pushback(resp *http.Response) (time.Duration, bool) {
	ms, err := strconv.Atoi(resp.Header.Get("Grpc-Retry-Pushback-Ms"))
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// grpcBody holds back the outcome of a gRPC call whose status comes in
// the trailers, until the body has been read to its end (or closed).
type grpcBody struct {
	io.ReadCloser
	resp   *http.Response
	ctx    context.Context
	policy *GRPCPolicy
	once   sync.Once
	done   func(breaker.Outcome) // nil: the outcome was known from the headers
}

func (b *grpcBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *grpcBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

func (b *grpcBody) finish() {
	b.once.Do(func() {
		if in, ok := b.ctx.Value(inboundKey{}).(io.Closer); ok {
			in.Close() // the answer has ended: the client's side of the stream too
		}
		if b.done == nil {
			return // counted from the headers already
		}
		code := b.resp.Trailer.Get("Grpc-Status")
		switch {
		case code != "":
			b.done(b.policy.outcome(code))
		case b.ctx.Err() != nil:
			b.done(breaker.Ignored) // the client went away
		default:
			b.done(breaker.Failure) // the stream ended without a status
		}
	})
}

// grpcDeadline is how long a gRPC call may take: the client's
// grpc-timeout clamped by deadline (when set), and at most streamTimeout
// (when set); 0 is no limit. A call without grpc-timeout is not bounded
// by deadline, which would cut its streams.
func grpcDeadline(h http.Header, deadline, streamTimeout time.Duration) time.Duration {
	d, ok := ParseGRPCTimeout(h.Get("Grpc-Timeout"))
	if ok && deadline > 0 {
		d = min(d, deadline)
	}
	if streamTimeout > 0 && (d == 0 || streamTimeout < d) {
		d = streamTimeout
	}
	return d
}

// ParseGRPCTimeout reads a grpc-timeout header: at most 8 digits and a
// unit (H, M, S, m, u, n).
func ParseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second,
		'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}[v[len(v)-1]]
	if unit == 0 {
		return 0, false
	}
	if n > int64((1<<63-1)/unit) {
		return 1<<63 - 1, true
	}
	return time.Duration(n) * unit, true
}

// FormatGRPCTimeout writes d as a grpc-timeout header: the finest unit
// that keeps it within 8 digits (rounded up, so that a server never gets
// less time than is left).
func FormatGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, u := range []struct {
		d time.Duration
		c byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'}, {time.Second, 'S'}, {time.Minute, 'M'}, {time.Hour, 'H'}} {
		n := d / u.d
		if d%u.d != 0 {
			n++
		}
		if n < 1e8 {
			return strconv.FormatInt(int64(n), 10) + string(u.c)
		}
	}
	panic("unreachable: a Duration is under 1e8 hours")
}

// sentBody tells, once, when the client's side of a call has been read
// to its end (a gRPC call's timeout runs from then).
type sentBody struct {
	io.ReadCloser
	once sync.Once
	sent func()
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.sent)
	}
	return n, err
}

// recordBody keeps what a gRPC call's client sends, up to limit bytes,
// so that the call can be sent again if its first try fails: when the
// client's side had ended by then within the limit, or when the try read
// none of it (a connection refused). A stream still sending is not sent
// again. Reads and Close come from the transport's goroutine, settle's
// and replay from the request's. rmu is held through each read of the
// client's side, one at a time (a try's transport may still be in one
// when its answer has come and settle reads on); mu guards the fields
// below it, so that settle and replay can look without waiting for a
// read.
type recordBody struct {
	in    io.ReadCloser
	limit int64
	rmu   sync.Mutex
	mu    sync.Mutex
	buf   []byte
	read  bool // a try has read from it
	over  bool
	eof   bool
}

func (b *recordBody) Read(p []byte) (int, error) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	b.mu.Lock()
	b.read = true
	b.mu.Unlock()
	n, err := b.in.Read(p)
	b.mu.Lock()
	if !b.over {
		if int64(len(b.buf)+n) > b.limit {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	b.mu.Unlock()
	return n, err
}

// Close does not close the client's side: a try's transport closes its
// body when the answer comes, and a retry may still need the rest of it
// (settle). The client's side ends with the answer (grpcBody) or the
// request.
func (b *recordBody) Close() error { return nil }

// settle reads the rest of what the client sends, for at most wait, when
// a try has read some of it but not its end: a Trailers-Only answer can
// come before the transport has read a unary call's end. A stream still
// sending is left to go on being read until the answer ends it.
func (b *recordBody) settle(wait time.Duration) {
	b.mu.Lock()
	need := b.read && !b.eof && !b.over
	b.mu.Unlock()
	if !need {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4<<10)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// replay is the body of the next try, if the call can be sent again.
func (b *recordBody) replay() (io.ReadCloser, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.read:
		return b, true
	case b.eof && !b.over:
		return io.NopCloser(bytes.NewReader(b.buf)), true
	}
	return nil, false
}

// AnsweredGRPCStatus is the grpc-status a handler has answered a gRPC
// call with, read from its ResponseWriter's header once it has returned:
// a Trailers-Only answer's header, or a trailer (announced, or set with
// http.TrailerPrefix as the reverse proxy does); "" when there is none
// (the call broke off).
func AnsweredGRPCStatus(h http.Header) string {
	if v := h.Get("Grpc-Status"); v != "" {
		return v
	}
	return h.Get(http.TrailerPrefix + "Grpc-Status")
}

// GRPCMethod splits a gRPC call's path, /package.Service/Method, into
// the service and the method; ok is false for a path of another shape.
func GRPCMethod(path string) (service, method string, ok bool) {
	service, method, ok = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}
