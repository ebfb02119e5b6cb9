// Package gateway forwards requests to the instances of `kind: "http"`
// services: a load balancer picks the instance, a circuit breaker guards
// the service, each try has its own timeout, idempotent requests are
// retried on another instance, and every error is a JSON answer.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/h1client"
	"github.com/tuskcompose/composer/internal/tracing"
)

// Upstream is a service behind the gateway.
type Upstream struct {
	Name     string
	Balancer *balancer.Balancer
	Breaker  *breaker.Breaker
	Timeout  time.Duration // of one try, until the answer's headers; 0 is no limit
	Retries  int           // further tries of an idempotent request, on another instance while one is left
	Retry    Retry         // backoff, budget and body limit of the retries
	// Budget is the service's retry budget, shared by its routes (nil:
	// retries are not budgeted).
	Budget *Budget
	// Deadline bounds a request across all its tries, its answer's body
	// included (0: none).
	Deadline    time.Duration
	StripPrefix string // removed from the path before forwarding
	AddPrefix   string // then put in front of it (path_rewrite)
	// RequestHeaders and ResponseHeaders are set and removed on the
	// request to the instance and on its answer (nil: nothing).
	RequestHeaders, ResponseHeaders *HeaderRules
	// Key, when set, is the request's key for a consistent_hash balancer
	// (HashKey).
	Key func(*http.Request) string
	// StreamIdleTimeout closes an answer whose body stays silent that
	// long (a stream whose instance stopped writing); 0: none.
	StreamIdleTimeout time.Duration
	// GRPC, for a gRPC service, reads a call's outcome from its
	// grpc-status, not its HTTP status (gRPC errors arrive as 200): from
	// the headers of a Trailers-Only answer (which may be retried, on the
	// policy's RetryOn codes), else from the trailers once the body has
	// been read. The call's deadline is its grpc-timeout clamped by
	// Deadline and StreamTimeout (grpcDeadline), passed on to the
	// instance; Timeout runs from when the client has sent all of its
	// side, so that a stream the client still sends on is never cut by
	// it. nil: not gRPC.
	GRPC *GRPCPolicy
	// Transport makes the calls; its response-header timeout is Timeout
	// (nil: NewTransport(Timeout)). Callers share one per timeout value,
	// to share idle connections.
	Transport http.RoundTripper
	// OnTry, when set, is told the outcome of each try: success, failure
	// or timeout, and whether it was a retry (metrics).
	OnTry func(outcome string, retry bool)
	// Log, when set, gets a line for every request the service could not
	// answer (with the request's id, from its context).
	Log *slog.Logger
}

// HeaderRules are headers set and removed on a request or an answer
// (request_headers, response_headers). The JSON names are the platform
// file's keys.
type HeaderRules struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// apply removes, then sets; nil rules do nothing.
func (r *HeaderRules) apply(h http.Header) {
	if r == nil {
		return
	}
	for _, k := range r.Remove {
		h.Del(k)
	}
	for k, v := range r.Set {
		h.Set(k, v)
	}
}

// NewTransport returns the transport a gateway calls instances with:
// h1client for plain http (each call on the request's own goroutine,
// many idle connections per instance), a tuned http.Transport for the
// rest (https, HTTP/2, upgrades). Both wait at most timeout for an
// answer's headers (0: no limit); bounded dials.
func NewTransport(timeout time.Duration) http.RoundTripper {
	dial := (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &h1client.Transport{
		DialContext:           dial,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		Fallback: &http.Transport{
			Proxy:                 nil, // instances are addresses to reach directly
			DialContext:           dial,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: timeout,
			ForceAttemptHTTP2:     true,
		},
	}
}

// NewH2CTransport returns the transport of services spoken to over
// HTTP/2 without TLS (protocol h2c or grpc: prior knowledge): trailers
// and streams in both directions pass; timeout bounds the wait for an
// answer's headers (0: no limit).
func NewH2CTransport(timeout time.Duration) http.RoundTripper {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		Protocols:             protocols,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Handler returns the handler that forwards requests to u.
func (u *Upstream) Handler() http.Handler {
	transport := u.Transport
	if transport == nil {
		transport = NewTransport(u.Timeout)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			if u.StripPrefix != "" || u.AddPrefix != "" {
				p := strings.TrimPrefix(pr.In.URL.EscapedPath(), u.StripPrefix)
				if !strings.HasPrefix(p, "/") {
					p = "/" + p
				}
				if u.AddPrefix != "" {
					p = u.AddPrefix + p
				}
				pr.Out.URL.RawPath = p
				pr.Out.URL.Path, _ = url.PathUnescape(p)
			}
			u.RequestHeaders.apply(pr.Out.Header)
		},
		Transport:    &tries{u: u, base: transport},
		ErrorHandler: u.writeError,
		ModifyResponse: func(resp *http.Response) error {
			u.ResponseHeaders.apply(resp.Header)
			return nil
		},
		BufferPool: &buffers,
	}
	if u.GRPC == nil {
		// Plain HTTP/1 requests take the lean path (forward); upgrades
		// and HTTP/2 go through ReverseProxy.
		lean := proxy.Transport
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if plain(r) {
				u.forward(w, r, lean)
				return
			}
			proxy.ServeHTTP(w, r)
		})
	}
	// A gRPC stream the server ends while the client still sends: the
	// HTTP/2 transport waits for the request body's copy to end before it
	// lets the answer end, so the client's side is closed once the answer
	// has ended (grpcBody).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r = r.WithContext(context.WithValue(r.Context(), inboundKey{}, r.Body))
		}
		proxy.ServeHTTP(w, r)
	})
}

// inboundKey holds, in a gRPC request's context, the client's request
// body, for grpcBody to close when the answer ends.
type inboundKey struct{}

// RoundTripper returns u's request path as a client's transport, for a
// call made in the composer itself (the built-in orders calling users):
// the same breaker, balancer, retries, timeouts, metrics and spans as a
// request through the gateway. The request's URL is replaced by the
// instance's, but for its path and query.
func (u *Upstream) RoundTripper() http.RoundTripper {
	transport := u.Transport
	if transport == nil {
		transport = NewTransport(u.Timeout)
	}
	return &tries{u: u, base: transport}
}

// buffers lends the reverse proxies their copy buffers, which they would
// otherwise allocate, 32 KiB each, for every response.
var buffers bufferPool

type bufferPool struct{ p sync.Pool }

// Get and Put are httputil.BufferPool's; get and put keep the pointer the
// pool holds, which Put allocates anew.
func (b *bufferPool) Get() []byte { return *b.get() }

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func (b *bufferPool) get() *[]byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return buf
	}
	buf := make([]byte, 32<<10)
	return &buf
}

func (b *bufferPool) put(buf *[]byte) { b.p.Put(buf) }

// Errors of a forwarded request, turned into answers by writeError.
var (
	errNoInstance = errors.New("no healthy instance")
	errTimeout    = errors.New("the service did not answer in time")
)

// openError is a refusal of the open breaker.
type openError struct{ retryAfter time.Duration }

func (e *openError) Error() string { return "circuit breaker open" }

func (u *Upstream) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	msg := fmt.Sprintf("service %s: %v", u.Name, err)
	var open *openError
	switch {
	case errors.As(err, &open):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(open.retryAfter.Seconds()))))
		msg = fmt.Sprintf("service %s is unavailable (circuit breaker open)", u.Name)
	case errors.Is(err, errNoInstance):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errTimeout):
		status = http.StatusGatewayTimeout
	case IsBodyTooLarge(err):
		status, msg = http.StatusRequestEntityTooLarge, "request body too large"
	case r.Context().Err() != nil:
		return // the client is gone: nobody reads an answer
	}
	if u.Log != nil {
		u.Log.WarnContext(r.Context(), "service call failed", "request_id", r.Header.Get(RequestIDHeader),
			"service", u.Name, "status", status, "path", r.URL.Path, "err", err.Error())
	}
	WriteError(w, r, status, msg)
}

// WriteError writes a JSON error: {"error": msg, "request_id": id}; to a
// gRPC request, the same error in gRPC's own form (WriteGRPCError).
func WriteError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if IsGRPC(r) {
		WriteGRPCError(w, grpcCode(status), msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "request_id": r.Header.Get(RequestIDHeader)})
}

// IsGRPC reports whether a request is a gRPC call.
func IsGRPC(r *http.Request) bool {
	ct := r.Header["Content-Type"] // canonical, as parsed: no need to canonicalize the name
	return len(ct) > 0 && strings.HasPrefix(ct[0], "application/grpc")
}

// WriteGRPCError answers a gRPC call with an error of the composer's own,
// as gRPC does (Trailers-Only: HTTP 200, grpc-status and grpc-message in
// the headers).
func WriteGRPCError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", url.PathEscape(msg)) // percent-encoded, as the spec asks
	w.WriteHeader(http.StatusOK)
}

// grpcCode is the gRPC status of one of the gateway's own HTTP errors.
func grpcCode(status int) int {
	switch status {
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return 14 // UNAVAILABLE
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusGatewayTimeout:
		return 4 // DEADLINE_EXCEEDED
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusBadRequest:
		return 3 // INVALID_ARGUMENT
	}
	return 2 // UNKNOWN
}

// tries makes the calls of one request: a try per instance, under the
// breaker, with the try's timeout.
type tries struct {
	u    *Upstream
	base http.RoundTripper
}

// idempotentMethod reports whether a request of the method may be sent
// twice (RFC 9110's idempotent methods).
func idempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// RoundTrip makes the tries of one request. A failed try (5xx, timeout,
// connection error) of an idempotent request is tried again, on another
// instance while one is left, else on the same one, after a backoff and
// only while the service's retry budget allows; when the tries run out,
// the client gets the last real answer, status, headers and body. (Only
// when no try got an answer is the error the gateway's own.)
func (t *tries) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, false)
}

// roundTrip is RoundTrip; lines: the caller sends the answer's header
// lines on as they are when it can (forward), and takes an answer without
// a header when the transport gives one (h1client's RoundTripLines).
func (t *tries) roundTrip(req *http.Request, lines bool) (*http.Response, error) {
	u := t.u
	if u.Budget != nil && u.Retries > 0 {
		u.Budget.request()
	}
	var retryable bool
	var record *recordBody
	deadline := u.Deadline
	if u.GRPC != nil {
		deadline = grpcDeadline(req.Header, u.Deadline, u.GRPC.StreamTimeout)
		if retryable = u.Retries > 0; retryable && req.Body != nil && req.Body != http.NoBody {
			// Kept as it is sent, not read ahead: the client of a stream
			// may wait for the answer before it sends more.
			record = &recordBody{in: req.Body, limit: u.Retry.BodyLimit}
			req.Body = record
			req.GetBody = func() (io.ReadCloser, error) {
				if body, ok := record.replay(); ok {
					return body, nil
				}
				return nil, errors.New("the call's body cannot be sent again")
			}
		}
	} else {
		retryable = u.Retries > 0 && idempotentMethod(req.Method) && replayable(req, u.Retry.BodyLimit)
	}
	var cancel context.CancelFunc
	if deadline > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), deadline)
		req = req.WithContext(ctx)
	}
	resp, err := t.tries(req, retryable, record, lines && u.GRPC == nil)
	if cancel != nil {
		if resp == nil {
			cancel()
		} else {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel} // the deadline covers the body too
			if u.GRPC != nil {
				resp.Body = &grpcDeadlineBody{ReadCloser: resp.Body, resp: resp, ctx: req.Context()}
			}
		}
	}
	return resp, err
}

// grpcDeadlineBody is the body of a gRPC answer under the call's
// deadline: when the deadline cuts it, the answer ends there with the
// status a gRPC client expects, DEADLINE_EXCEEDED in its trailers, not
// with a reset stream (which the client reads as INTERNAL or
// UNAVAILABLE). The trailers are the body's reader's to set: the
// transport hands the instance's trailers over only when the body is
// read to its end.
//
// A read that fails once the deadline has passed is the deadline's doing,
// whether or not ctx has noticed yet: the instance, given the same
// deadline in grpc-timeout, resets the stream when it passes, and its
// reset can come before ctx's own timer has fired.
type grpcDeadlineBody struct {
	io.ReadCloser
	resp *http.Response
	ctx  context.Context
}

func (b *grpcDeadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && pastDeadline(b.ctx) {
		b.resp.Trailer = http.Header{"Grpc-Status": {"4"}, "Grpc-Message": {"deadline exceeded at the gateway"}}
		return n, io.EOF
	}
	return n, err
}

// pastDeadline reports whether ctx's deadline has passed, whether or not
// ctx has noticed yet: its timer can fire after an instance, given the
// same deadline in grpc-timeout, has reset the stream for it.
func pastDeadline(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (t *tries) tries(req *http.Request, retryable bool, record *recordBody, lines bool) (*http.Response, error) {
	u := t.u
	var tried []*balancer.Instance
	var last *kept // the last failed answer, while another try is made
	key := ""
	if u.Key != nil {
		key = u.Key(req)
	}
	fail := func(err error) (*http.Response, error) {
		if last != nil {
			return last.answer(), nil
		}
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		ticket, retryAfter, ok := u.Breaker.Allow()
		if !ok {
			trace.SpanFromContext(req.Context()).AddEvent("circuit breaker open", trace.WithAttributes(attribute.String("service", u.Name)))
			return fail(&openError{retryAfter})
		}
		in := u.Balancer.PickKey(key, tried...)
		if in == nil && len(tried) > 0 {
			in = u.Balancer.PickKey(key) // none left: the same one again
		}
		if in == nil {
			u.Breaker.Done(ticket, breaker.Ignored)
			return fail(errNoInstance)
		}
		tried = append(tried, in)
		resp, err := t.try(req, in, attempt, lines)
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		outcome := breaker.Classify(status, err, req.Context())
		again := outcome == breaker.Failure
		switch {
		case u.GRPC != nil && resp != nil && status == http.StatusOK && resp.Header.Get("Grpc-Status") != "":
			// Trailers-Only: nothing was answered yet, so it may be retried.
			outcome = u.GRPC.outcome(resp.Header.Get("Grpc-Status"))
			u.count(ticket, in, outcome, err, attempt)
			again = u.GRPC.retry(resp)
			if d, ok := pushback(resp); ok && d > u.Retry.MaxBackoff {
				again = false // never sooner than the server asks, never longer than max_retry_backoff
			}
			resp.Body = &grpcBody{ReadCloser: resp.Body, resp: resp, ctx: req.Context()} // to end the client's side
		case u.GRPC != nil && resp != nil && status == http.StatusOK:
			outcome, again = breaker.Success, false      // known when the trailers come
			tk, ti, terr, ta := ticket, in, err, attempt // (copies: what the closure holds is allocated on this path only)
			count := func(outcome breaker.Outcome) { u.count(tk, ti, outcome, terr, ta) }
			resp.Body = &grpcBody{ReadCloser: resp.Body, resp: resp, ctx: req.Context(), policy: u.GRPC, done: count}
		default:
			u.count(ticket, in, outcome, err, attempt)
		}
		if record != nil {
			if again {
				record.settle(50 * time.Millisecond)
			}
			_, sent := record.replay()
			again = again && sent // a call still sending, or too large to keep, is not sent again
		}
		again = again && retryable && attempt < u.Retries && req.Context().Err() == nil &&
			(u.Budget == nil || u.Budget.retry(u.Retry))
		var failed *http.Response // the answer the retry follows (nil: a transport error)
		if again && resp != nil {
			if k, ok := keep(resp); ok {
				last, failed, resp = k, k.resp, nil
			} else {
				again = false // a failed answer too large to hold is the answer
			}
		}
		if !again {
			if resp != nil {
				return resp, nil
			}
			var te interface{ Timeout() bool }
			// Past the request's deadline, whatever broke the try (an
			// instance resetting the stream at the same deadline) is the
			// deadline's.
			if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout() || pastDeadline(req.Context()) {
				err = errTimeout
			}
			return fail(err)
		}
		if sleepCtx(req.Context(), u.Retry.wait(attempt+1, failed)) != nil {
			return fail(errTimeout)
		}
	}
}

// cancelBody ends a request's deadline when its answer's body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Unwrap is the body b wraps (for answerLines).
func (b *cancelBody) Unwrap() io.ReadCloser { return b.ReadCloser }

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func tryOutcome(o breaker.Outcome, err error) string {
	switch {
	case o == breaker.Success:
		return "success"
	case isTimeout(err):
		return "timeout"
	}
	return "failure"
}

// isTimeout reports whether err is a deadline's or a timeout's.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	var te interface{ Timeout() bool } // (escapes: allocated only here)
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout()
}

// count records the outcome of one try: in the breaker, the balancer and
// the try counters.
func (u *Upstream) count(ticket breaker.Ticket, in *balancer.Instance, outcome breaker.Outcome, err error, attempt int) {
	u.Breaker.Done(ticket, outcome)
	if outcome != breaker.Ignored {
		u.Balancer.Observe(in, outcome == breaker.Failure)
	}
	if u.OnTry != nil && outcome != breaker.Ignored {
		u.OnTry(tryOutcome(outcome, err), attempt > 0)
	}
}

// try sends the request to one instance.
func (t *tries) try(req *http.Request, in *balancer.Instance, attempt int, lines bool) (resp *http.Response, err error) {
	base := in.URL
	if base == nil {
		in.Done()
		return nil, fmt.Errorf("instance %q is not a URL", in.Address)
	}
	// req is the reverse proxy's own copy of the client's request: a
	// shallow copy with its own URL is enough for each try. (The try's
	// timeout is the transport's ResponseHeaderTimeout.)
	a := new(tryAlloc)
	a.req, a.url = *req, *req.URL
	out := &a.req
	a.url.Scheme, a.url.Host = base.Scheme, base.Host
	out.URL = &a.url
	out.Host = ""
	if tracing.Enabled() {
		ctx, span := tracing.Tracer().Start(req.Context(), "call "+t.u.Name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.Int("attempt", attempt+1), attribute.String("instance", in.Address)))
		out = out.WithContext(ctx)
		out.Header = req.Header.Clone()
		tracing.Inject(ctx, out.Header)
		defer func() {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			} else if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, resp.Status)
			}
			if resp != nil {
				span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			}
			span.End()
		}()
	}
	if attempt > 0 && req.GetBody != nil {
		if out.Body, err = req.GetBody(); err != nil {
			in.Done()
			return nil, err
		}
	}
	var stop func() bool // a gRPC try's timeout, once armed
	if t.u.GRPC != nil {
		out, stop = t.grpcTry(out)
	}
	if lt, ok := t.base.(linesTransport); ok && lines {
		resp, err = lt.RoundTripLines(out)
	} else {
		resp, err = t.base.RoundTrip(out)
	}
	if stop != nil && !stop() && err != nil {
		err = errTimeout
	}
	if err != nil {
		in.Done()
		return nil, err
	}
	// The request is in flight on the instance until its body is read:
	// for an upgrade (101), until the connection closes.
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &doneConn{ReadWriteCloser: rwc, in: in}
		return resp, nil
	}
	if t.u.StreamIdleTimeout > 0 {
		resp.Body = newIdleBody(resp.Body, t.u.StreamIdleTimeout)
	}
	a.body = doneBody{ReadCloser: resp.Body, in: in}
	resp.Body = &a.body
	return resp, nil
}

// linesTransport is a transport that can leave an answer's header out
// when its lines can go on as they are (h1client's).
type linesTransport interface {
	RoundTripLines(req *http.Request) (*http.Response, error)
}

// tryAlloc is what a try makes, in one allocation: its copy of the
// request, of the request's URL, and the answer's body that ends the try.
type tryAlloc struct {
	req  http.Request
	url  url.URL
	body doneBody
}

// grpcTry prepares a gRPC try: the time left of the call's deadline
// goes to the instance in grpc-timeout, and the try's Timeout runs from
// when the client has sent all of its side (at once for a call without
// a body). stop disarms the timeout and reports whether it had not
// fired; the try's context ends with the answer's body.
func (t *tries) grpcTry(out *http.Request) (*http.Request, func() bool) {
	if dl, ok := out.Context().Deadline(); ok {
		if !tracing.Enabled() { // (with tracing, try has cloned the header already)
			out.Header = out.Header.Clone() // the reverse proxy's copy is shared by the tries
		}
		out.Header.Set("Grpc-Timeout", FormatGRPCTimeout(time.Until(dl)))
	}
	if t.u.Timeout <= 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(out.Context())
	var mu sync.Mutex
	var timer *time.Timer
	stopped := false
	arm := func() {
		mu.Lock()
		if !stopped {
			timer = time.AfterFunc(t.u.Timeout, cancel)
		}
		mu.Unlock()
	}
	out = out.WithContext(ctx)
	if out.Body == nil || out.Body == http.NoBody {
		arm()
	} else {
		out.Body = &sentBody{ReadCloser: out.Body, sent: arm}
	}
	return out, func() bool {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil && !timer.Stop() {
			return false
		}
		return true
	}
}

// idleBody closes a body that has not given a byte for its timeout: the
// reverse proxy's copy then ends, and so does the client's answer.
type idleBody struct {
	io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
}

// Unwrap is the body b wraps (for answerLines).
func (b *idleBody) Unwrap() io.ReadCloser { return b.ReadCloser }

func newIdleBody(body io.ReadCloser, timeout time.Duration) *idleBody {
	b := &idleBody{ReadCloser: body, timeout: timeout}
	b.timer = time.AfterFunc(timeout, func() { body.Close() })
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// doneConn is the connection of an upgraded request (a WebSocket): the
// reverse proxy needs it writable. It ends the instance's request once,
// when closed.
type doneConn struct {
	io.ReadWriteCloser
	in   *balancer.Instance
	once sync.Once
}

func (c *doneConn) Close() error {
	err := c.ReadWriteCloser.Close()
	c.once.Do(c.in.Done)
	return err
}

// doneBody ends the instance's request once, when the body is closed.
type doneBody struct {
	io.ReadCloser
	in *balancer.Instance
}

// Unwrap is the body b wraps (for answerLines).
func (b *doneBody) Unwrap() io.ReadCloser { return b.ReadCloser }

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	if b.in != nil {
		b.in.Done()
		b.in = nil
	}
	return err
}
