package runner

import (
	"hash/maphash"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/ratelimit"
	"github.com/tuskcompose/composer/internal/tracing"
	"github.com/tuskcompose/composer/services"
)

// The gateway of a generation is gin's routers over the services' routes.
// A reload makes what its edit changed and keeps the rest of the last
// generation's: a service whose handlers would be made from the same
// things (mountKey) mounts the last generation's handlers, and the routes
// are spread over routers by their first path segment (bucketsFor), so that a router whose routes and handlers are all the same is
// the last generation's router too. gin cannot take a route out of a
// router that serves, nor add one safely: a change of routes makes the
// routers it touches, not every route of the platform (and gin's first
// request to a router, which rewrites its trees, costs what that router
// holds).
//
// The split by first segment is exactly gin's matching when no route's
// first segment holds a parameter or a wildcard
// (composer.RoutedByFirstSegment): a request's first
// segment then names the only routes that can match it, and a trailing
// slash added or taken away leaves it as it is. When one does (a route
// "/*path", "/:tenant/orders"), every route of a host is in one router,
// as gin would have it.

// bucketsFor is how many routers the routes of a platform are spread
// over when their first segments allow it: about sixteen routes each, a
// power of two, at most 1,024. (When the number changes, a reload makes
// every router again.)
func bucketsFor(routes int) int {
	n := 1
	for n < routes/16 && n < 1024 {
		n *= 2
	}
	return n
}

// mounted is one route with its handler; a route may name its host
// ("api.example.com/users/:id").
type mounted struct {
	host, path, service string
	h                   http.Handler
	from                *serviceMount // the mount it belongs to
}

// serviceMount is what a service puts in front of its routes: a handler
// per route, made from what key holds.
type serviceMount struct {
	key    mountKey
	routes []mounted
}

// mountKey is everything an http or process service's handlers are made
// from besides the runner's own (its metrics, log and tracing): equal
// keys make handlers that do the same.
type mountKey struct {
	settings  *composer.ResolvedService // compared with composer.SameSettings
	balancer  *balancer.Balancer
	breaker   *breaker.Breaker
	limiter   *ratelimit.Limiter
	policy    *auth.Policy
	proxies   string // generation.proxiesKey
	transport http.RoundTripper
}

func (k mountKey) same(o mountKey) bool {
	ks, os := k, o
	ks.settings, os.settings = nil, nil
	return ks == os && composer.SameSettings(k.settings, o.settings)
}

// mountService returns the handlers of an http or process service: the
// last generation's (prev, nil at the start) when they were made from the
// same things.
func (r *Runner) mountService(g, prev *generation, name string, s *composer.ResolvedService) *serviceMount {
	e := g.services[name]
	key := mountKey{settings: s, balancer: e.balancer, breaker: g.breakers[name], limiter: g.limiters[name],
		proxies: g.proxiesKey, transport: r.transportFor(s.Protocol, s.Timeout)}
	if s.Auth != "" {
		key.policy = g.auth[s.Auth]
	}
	if prev != nil {
		if last := prev.mounts[name]; last != nil && last.key.same(key) {
			return last
		}
	}
	up := &gateway.Upstream{Name: name, Balancer: e.balancer, Breaker: g.breakers[name], Timeout: s.Timeout, GRPC: grpcPolicy(s),
		Retries: s.Retries, Retry: s.Retry, Budget: &gateway.Budget{}, Deadline: s.Deadline, Key: gateway.HashKey(s.HashOn),
		StreamIdleTimeout: s.StreamIdleTimeout, RequestHeaders: s.RequestHeaders, ResponseHeaders: s.ResponseHeaders,
		Transport: key.transport, Log: r.log}
	if r.metrics != nil {
		up.OnTry = tryCounters(r.metrics, name)
	}
	m := &serviceMount{key: key}
	for _, route := range s.Routes {
		host, path := composer.SplitRoute(route)
		u := *up
		if s.StripPrefix || s.PathRewrite != "" {
			u.StripPrefix = staticPrefix(path)
			u.AddPrefix = strings.TrimSuffix(s.PathRewrite, "/")
		}
		m.routes = append(m.routes, mounted{host, path, name, r.edge(g, name, s, gateway.BodyLimit(s.MaxBodySize, u.Handler())), m})
	}
	return m
}

// gateway is the handler of generation g (prev: the one it follows, nil
// at the start).
func (r *Runner) gateway(g, prev *generation, model *composer.Resolved, builtins map[string]services.Service) http.Handler {
	g.mounts = make(map[string]*serviceMount, len(g.names))
	all := make([]mounted, 0, len(g.names)+8) // a route or so each
	for _, name := range g.names {
		s := model.Services[name]
		switch s.Kind {
		case "builtin":
			sub := gin.New()
			builtins[name].Register(sub)
			h := r.edge(g, name, s, gateway.BodyLimit(s.MaxBodySize, sub))
			m := &serviceMount{} // a built-in is made again with its store: never the last one's
			for _, route := range s.Routes {
				host, path := composer.SplitRoute(route)
				all = append(all, mounted{host, path, name, h, m})
			}
		case "http", "process":
			m := r.mountService(g, prev, name, s)
			g.mounts[name] = m
			all = append(all, m.routes...)
		}
	}
	paths := make([]string, 0, len(all))
	for _, m := range all {
		paths = append(paths, m.path)
	}
	for _, path := range ownGRPCRoutes(paths) {
		own := r.ownGRPCMount.routes[0]
		own.path, own.from = path, r.ownGRPCMount
		all = append(all, own)
	}
	buckets := bucketsFor(len(all))
	for _, path := range paths {
		if !composer.RoutedByFirstSegment(path) {
			buckets = 1
		}
	}
	// One set of routers for the requests of every host, and one for each
	// host that has routes of its own: its routes and the host-less ones.
	g.routers = map[routerKey]*bucketRouter{}
	hosts := hostRouter{def: r.segmentRouter(g, prev, "", all, buckets)}
	for _, m := range all {
		if m.host != "" && hosts.hosts[m.host] == nil {
			if hosts.hosts == nil {
				hosts.hosts = map[string]http.Handler{}
			}
			hosts.hosts[m.host] = r.segmentRouter(g, prev, m.host, all, buckets)
		}
	}
	return gateway.RequestID(hosts)
}

// routerKey names one of a generation's routers: its host's ("" for
// every host) bucket, of how many.
type routerKey struct {
	host       string
	bucket, of int
}

// bucketRouter is a router with what it was made from: its routes (in
// order) and their mounts, and whether it traces.
type bucketRouter struct {
	routes  []routeRef
	tracing bool
	engine  *gin.Engine
}

type routeRef struct {
	path, service string
	from          *serviceMount
}

// segmentRouter returns the router of host's requests over the routes of
// all that serve it (a host's own route wins over a host-less one of the
// same path): n routers by first segment (n is 1 when a first segment
// may hold a parameter). Each is the last generation's when it would be
// made from the same routes and mounts.
func (r *Runner) segmentRouter(g, prev *generation, host string, all []mounted, n int) http.Handler {
	own := map[string]bool{}
	for _, m := range all {
		if host != "" && m.host == host {
			own[m.path] = true
		}
	}
	split := n > 1
	buckets := make([][]mounted, n)
	for _, m := range all {
		if m.host == host || m.host == "" && !own[m.path] {
			b := 0
			if split {
				b = bucketOf(composer.FirstSegment(m.path), n)
			}
			buckets[b] = append(buckets[b], m)
		}
	}
	sr := &bucketsRouter{split: split, buckets: make([]http.Handler, n)}
	traced := tracing.Enabled()
	for b, routes := range buckets {
		if len(routes) == 0 && split {
			continue
		}
		key := routerKey{host, b, n}
		refs := make([]routeRef, len(routes))
		for i, m := range routes {
			refs[i] = routeRef{m.path, m.service, m.from}
		}
		if prev != nil {
			if last := prev.routers[key]; last != nil && last.tracing == traced && slices.Equal(last.routes, refs) {
				g.routers[key] = last
				sr.buckets[b] = last.engine
				continue
			}
		}
		br := &bucketRouter{routes: refs, tracing: traced, engine: r.newEngine(routes, traced)}
		g.routers[key] = br
		sr.buckets[b] = br.engine
	}
	if split {
		sr.none = r.newEngine(nil, traced)
	}
	return sr
}

// newEngine is a gin router of routes, with the gateway's middleware:
// panics recovered, requests traced (traced) and measured, and a 404 for
// a request no route matches.
func (r *Runner) newEngine(routes []mounted, traced bool) *gin.Engine {
	engine := gin.New()
	engine.Use(recoverPanics(r.log))
	routeService := make(map[string]string, len(routes))
	for _, m := range routes {
		routeService[m.path] = m.service
	}
	if traced {
		engine.Use(traceRequests(routeService))
	}
	engine.Use(measure(r.metrics, &r.counts, routeService))
	engine.NoRoute(func(c *gin.Context) {
		gateway.WriteError(c.Writer, c.Request, http.StatusNotFound, "no route for "+c.Request.URL.Path)
	})
	for _, m := range routes {
		engine.Any(m.path, gin.WrapH(m.h))
	}
	return engine
}

// bucketsRouter sends a request to the router of its path's first
// segment (split), or to its only router.
type bucketsRouter struct {
	split   bool
	buckets []http.Handler // nil: no route starts with such a segment
	none    http.Handler   // the 404 of a segment no route starts with
}

func (br *bucketsRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !br.split {
		br.buckets[0].ServeHTTP(w, req)
		return
	}
	if h := br.buckets[bucketOf(composer.FirstSegment(req.URL.Path), len(br.buckets))]; h != nil {
		h.ServeHTTP(w, req)
		return
	}
	br.none.ServeHTTP(w, req)
}

var bucketSeed = maphash.MakeSeed()

// bucketOf is the bucket of a first path segment, of n.
func bucketOf(segment string, n int) int {
	return int(maphash.String(bucketSeed, segment) % uint64(n))
}

// hostRouter sends a request to the router of its Host (port and case
// aside), or to the one of every host.
type hostRouter struct {
	def   http.Handler
	hosts map[string]http.Handler // nil: no route names a host
}

func (h hostRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h.hosts != nil {
		host := req.Host
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			host = host[:i]
		}
		if e := h.hosts[strings.ToLower(host)]; e != nil {
			e.ServeHTTP(w, req)
			return
		}
	}
	h.def.ServeHTTP(w, req)
}
