package runner

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/ratelimit"
)

// buildEdge compiles a generation's [auth] policies and rate limiters:
// a policy the plan keeps, and a limiter whose settings are unchanged,
// are the previous generation's (a JWKS read, a bucket's count go on).
// A policy that does not compile (its file went away since validation)
// is logged, and its services answer 503. Called with reloadMu held.
func (r *Runner) buildEdge(g, prev *generation, model *composer.Resolved, kept func(kind, name string) bool) {
	g.auth = map[string]*auth.Policy{}
	for name, s := range model.Auth {
		if kept(composer.KindAuth, name) && prev != nil && prev.auth[name] != nil {
			g.auth[name] = prev.auth[name]
			continue
		}
		p, err := auth.New(name, s)
		if err != nil {
			r.log.Error("an auth policy does not load: its services answer 503", "policy", name, "err", err)
			continue
		}
		g.auth[name] = p
	}
	g.limiters = map[string]*ratelimit.Limiter{}
	for name, s := range model.Services {
		if s.RateLimit == nil {
			continue
		}
		if prev != nil && prev.limiters[name] != nil && prev.limiters[name].Settings() == *s.RateLimit {
			g.limiters[name] = prev.limiters[name]
			continue
		}
		g.limiters[name] = ratelimit.New(*s.RateLimit)
	}
	g.proxies, _ = ratelimit.ParseProxies(model.Composer.TrustedProxies) // validated
	g.proxiesKey = fmt.Sprint(g.proxies)
}

// edge puts a service's CORS, auth policy, rate limit and request
// headers (a builtin's; the reverse proxy sets an instance's) in front of
// its routes. A limit keyed by the client's address or a header comes first,
// so that it also bounds refused attempts (guessing keys); one keyed by
// who the caller is (jwt:CLAIM, api_key) comes after the check.
func (r *Runner) edge(g *generation, name string, s *composer.ResolvedService, next http.Handler) http.Handler {
	h := next
	lim := g.limiters[name]
	byIdentity := lim != nil && (strings.HasPrefix(lim.Settings().Key, "jwt:") || lim.Settings().Key == "api_key")
	if lim != nil && byIdentity {
		h = limit(lim, g.proxies, h)
	}
	if s.Auth != "" {
		h = authenticate(g.auth[s.Auth], s.Auth, h)
	}
	if lim != nil && !byIdentity {
		h = limit(lim, g.proxies, h)
	}
	if s.Kind == "builtin" && s.RequestHeaders != nil { // http and process services: in the reverse proxy
		rules, next := s.RequestHeaders, h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			for _, k := range rules.Remove {
				req.Header.Del(k)
			}
			for k, v := range rules.Set {
				req.Header.Set(k, v)
			}
			next.ServeHTTP(w, req)
		})
	}
	if c := s.CORS; c != nil {
		// First: a browser's preflight carries no credentials, and is
		// answered here, never forwarded.
		h = cors.New(cors.Options{AllowedOrigins: c.AllowOrigins, AllowedMethods: c.AllowMethods, AllowedHeaders: c.AllowHeaders,
			ExposedHeaders: c.ExposeHeaders, AllowCredentials: c.AllowCredentials, MaxAge: int(c.MaxAge.Seconds())}).Handler(h)
	}
	return h
}

// authenticate checks a request with its policy: refused, a 401 with
// WWW-Authenticate; let through, with the claims the policy forwards.
func authenticate(p *auth.Policy, name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p == nil {
			gateway.WriteError(w, req, http.StatusServiceUnavailable, "the auth policy "+name+" does not load")
			return
		}
		id, err := p.Check(req)
		if err != nil {
			if ref, ok := err.(*auth.Refusal); ok {
				w.Header().Set("WWW-Authenticate", ref.Challenge())
			}
			gateway.WriteError(w, req, http.StatusUnauthorized, err.Error())
			return
		}
		p.Forward(req, id)
		next.ServeHTTP(w, req.WithContext(auth.WithIdentity(req.Context(), id)))
	})
}

// limit takes a token for the request's key: refused, a 429 with
// Retry-After; every answer has the RateLimit-* headers.
func limit(l *ratelimit.Limiter, proxies ratelimit.Proxies, next http.Handler) http.Handler {
	key := l.Settings().Key
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var k string
		switch {
		case key == "client_ip":
			k = proxies.ClientIP(req)
		case strings.HasPrefix(key, "header:"):
			k = req.Header.Get(key[len("header:"):])
		case strings.HasPrefix(key, "jwt:"):
			if id, ok := auth.IdentityFrom(req.Context()); ok {
				if v, ok := id.Claims[key[len("jwt:"):]].(string); ok {
					k = v
				}
			}
		case key == "api_key":
			if id, ok := auth.IdentityFrom(req.Context()); ok {
				k = id.APIKey
			}
		}
		d := l.Take(k, time.Now())
		l.Headers(w.Header(), d)
		if !d.Allowed {
			gateway.WriteError(w, req, http.StatusTooManyRequests, "too many requests: "+l.Describe())
			return
		}
		next.ServeHTTP(w, req)
	})
}
