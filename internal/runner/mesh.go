package runner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/admin"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/tracing"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// meshPair is the upstream listener of one declared call of a process
// service (caller -> target), on loopback: its address is in the
// caller's environment (COMPOSER_<TARGET>_URL). It lives as long as a
// generation has the call, so an unchanged pair keeps its port across
// reloads; what it serves is the current generation's request path to
// the target.
type meshPair struct {
	caller, target string
	ln             net.Listener
	srv            *http.Server
}

// meshAddr returns the address of a pair's listener, opening it the first
// time. Called with reloadMu held (or before Start).
func (r *Runner) meshAddr(caller, target string) (string, error) {
	key := composer.PairBreaker(caller, target)
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	if p := r.mesh[key]; p != nil {
		return p.ln.Addr().String(), nil
	}
	select {
	case <-r.stopping: // a late dial (a builtin's gRPC client) opens nothing Stop would not close
		return "", fmt.Errorf("mesh listener for %s: the composer is stopping", key)
	default:
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("mesh listener for %s: %w", key, err)
	}
	p := &meshPair{caller: caller, target: target, ln: ln}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Protocols: plainAndH2C(), // gRPC targets too
		Handler: gateway.RequestID(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serveMesh(w, req, caller, target) }))}
	r.mesh[key] = p
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		if err := p.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			r.log.Error("mesh listener", "pair", key, "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// meshConn is a gRPC connection from a built-in service to its pair's
// listener (orders -> users), made once: it dials the listener's address
// when it connects, so a listener opened again after a reload that
// dropped the pair is found.
func (r *Runner) meshConn(caller, target string) *grpc.ClientConn {
	key := composer.PairBreaker(caller, target)
	r.meshMu.Lock()
	conn := r.meshConns[key]
	r.meshMu.Unlock()
	if conn != nil {
		return conn
	}
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		addr, err := r.meshAddr(caller, target)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	conn, err := grpc.NewClient("passthrough:///"+key, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial), grpc.WithUnaryInterceptor(propagateTrace))
	if err != nil {
		panic(err) // only a target that does not parse fails, and this one does
	}
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	if c := r.meshConns[key]; c != nil {
		conn.Close()
		return c
	}
	r.meshConns[key] = conn
	return conn
}

// propagateTrace sends a call's trace context (traceparent) with it, so
// that the mesh's spans join the caller's trace.
func propagateTrace(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if tracing.Enabled() {
		h := http.Header{}
		tracing.Inject(ctx, h)
		for k, v := range h {
			for _, x := range v {
				ctx = metadata.AppendToOutgoingContext(ctx, strings.ToLower(k), x)
			}
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// closeMesh closes the listeners of the pairs no generation has any
// more (keep says which remain).
func (r *Runner) closeMesh(keep map[string]http.Handler) {
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	for key, p := range r.mesh {
		if _, ok := keep[key]; !ok {
			p.srv.Close()
			delete(r.mesh, key)
		}
	}
}

// serveMesh serves a call through a pair's listener with the current
// generation's request path to the target. A pair the serving
// generation does not have yet (its caller starts for the next one, as a
// blue-green replacement) gets a path without the pair's breaker.
func (r *Runner) serveMesh(w http.ResponseWriter, req *http.Request, caller, target string) {
	g := r.acquire()
	defer g.release()
	if tracing.Enabled() {
		req = req.WithContext(tracing.Extract(req.Context(), req.Header)) // the caller's trace
	}
	h := g.pairs[composer.PairBreaker(caller, target)]
	if h == nil {
		h = r.pairPath(g, caller, target)
	}
	h.ServeHTTP(w, req)
}

// pairPath is the request path of a caller's calls to a target: the
// target's balancer (or, for a builtin, its handler in process), the
// pair's breaker, the target's timeout, retries and deadline, try metrics
// labelled caller->target.
func (r *Runner) pairPath(g *generation, caller, target string) http.Handler {
	key := composer.PairBreaker(caller, target)
	if caller == "" {
		key = target // an undeclared call (a mesh that is not strict): the target's own breaker
	}
	s := g.model.Services[target]
	if s == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			gateway.WriteError(w, req, http.StatusServiceUnavailable, "service "+target+" is not in the running platform")
		})
	}
	up := &gateway.Upstream{Name: key, Breaker: g.breakers[key], Timeout: s.Timeout, Retries: s.Retries, Retry: s.Retry, GRPC: grpcPolicy(s),
		Budget: &gateway.Budget{}, Deadline: s.Deadline, Transport: r.transportFor(s.Protocol, s.Timeout), Log: r.log,
		StreamIdleTimeout: s.StreamIdleTimeout}
	if e := g.services[target]; e != nil {
		up.Balancer = e.balancer
	} else if h := g.builtins[target]; h != nil {
		self := balancer.NewInstance("http://" + target + ".in-process")
		self.SetHealth(balancer.Healthy)
		up.Balancer, _ = balancer.New(balancer.RoundRobin, []*balancer.Instance{self})
		up.Transport = &gateway.InProcess{Handler: h}
	}
	if up.Balancer == nil {
		up.Balancer, _ = balancer.New(balancer.RoundRobin, nil)
	}
	if r.metrics != nil {
		tries := tryCounters(r.metrics, key)
		byPair := map[string]prometheus.Counter{}
		for _, o := range []string{"success", "failure", "timeout"} {
			byPair[o] = r.metrics.MeshCounter(caller, target, o)
		}
		up.OnTry = func(outcome string, retry bool) {
			tries(outcome, retry)
			byPair[outcome].Inc()
		}
	}
	if g.builtins[target] != nil && up.GRPC == nil {
		// A builtin answers HTTP/JSON and gRPC: its gRPC calls are judged
		// by their grpc-status.
		grpcUp := *up
		grpcUp.GRPC = gateway.GRPCDefaults.Policy()
		plain, grpcPath := up.Handler(), grpcUp.Handler()
		return gateway.BodyLimit(s.MaxBodySize, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if gateway.IsGRPC(req) {
				grpcPath.ServeHTTP(w, req)
				return
			}
			plain.ServeHTTP(w, req)
		}))
	}
	return gateway.BodyLimit(s.MaxBodySize, up.Handler())
}

// meshVars are the variables that give a process its upstream
// addresses and its events address, opening the listeners it needs.
func (r *Runner) meshVars(caller string, calls []string) (map[string]string, error) {
	addr, err := r.eventsAddr(caller)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{"COMPOSER_EVENTS_URL": "http://" + addr + "/"}
	for _, target := range calls {
		addr, err := r.meshAddr(caller, target)
		if err != nil {
			return nil, err
		}
		name := composer.EnvName(target)
		vars[name+"_URL"], vars[name+"_ADDR"] = "http://"+addr, addr
	}
	return vars, nil
}

// Mesh lists the pairs with their addresses and breaker states.
func (r *Runner) Mesh() []admin.MeshPair {
	g := r.gen()
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	out := []admin.MeshPair{}
	for key, p := range r.mesh {
		mp := admin.MeshPair{Caller: p.caller, Target: p.target, Address: p.ln.Addr().String()}
		if b := g.breakers[key]; b != nil {
			mp.Breaker = admin.StateName(b.State())
		}
		out = append(out, mp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Caller+out[i].Target < out[j].Caller+out[j].Target })
	return out
}

// serveShared serves [mesh] listen: /<target>/<path> from the caller that
// X-Composer-Caller names; with strict, only the calls its `calls`
// declares.
func (r *Runner) serveShared(w http.ResponseWriter, req *http.Request) {
	if err := gateway.NormalizeURL(req.URL); err != nil { // the target is the path's first segment
		gateway.WriteError(w, req, http.StatusBadRequest, err.Error())
		return
	}
	g := r.acquire()
	defer g.release()
	target, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if g.model.Services[target] == nil {
		gateway.WriteError(w, req, http.StatusNotFound, fmt.Sprintf("no service %q: call /<service>/<path>", target))
		return
	}
	caller := req.Header.Get(CallerHeader)
	declared := false
	if s := g.model.Services[caller]; s != nil {
		declared = slices.Contains(s.Calls, target)
	}
	if !declared && g.model.Composer.MeshStrict {
		gateway.WriteError(w, req, http.StatusForbidden, fmt.Sprintf("%s does not declare a call to %s (calls, or %s)", orNobody(caller), target, CallerHeader))
		return
	}
	if !declared {
		caller = "" // not strict: the target's own breaker
	}
	h := g.pairs[composer.PairBreaker(caller, target)]
	if h == nil {
		h = r.pairPath(g, caller, target)
	}
	ctx := req.Context()
	if tracing.Enabled() {
		ctx = tracing.Extract(ctx, req.Header) // the caller's trace
	}
	out := req.Clone(ctx)
	out.URL.Path, out.URL.RawPath = "/"+rest, ""
	h.ServeHTTP(w, out)
}

// CallerHeader names the caller of a call through [mesh] listen.
const CallerHeader = "X-Composer-Caller"

func orNobody(caller string) string {
	if caller == "" {
		return "a call without " + CallerHeader
	}
	return caller
}
