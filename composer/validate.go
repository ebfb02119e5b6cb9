package composer

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/eventfilter"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/internal/ratelimit"
	"github.com/tuskcompose/composer/services"
	"github.com/tuskcompose/composer/tsk"
)

// The values that enumerated settings accept.
var (
	serviceKinds  = []string{"builtin", "http", "process"}
	loadBalancers = []string{"round_robin", "least_requests", "random", "consistent_hash"}
	protocols     = []string{"http", "h2c", "grpc"}
	// healthProtocols are how instances can be probed.
	healthProtocols = []string{"http", "grpc"}
	restarts        = []string{"no", "on-failure", "always"}
	buses           = []string{"embedded", "kafka"}
	conditions      = []string{"started", "healthy", "completed"}
	discoveries     = []string{"file", "registry"}
)

// Validate checks what decoding alone cannot: settings with a fixed set of
// values, references between services (calls, depends_on, event route
// targets), dependency cycles and routes declared twice. It runs on the
// resolved platform and reports every problem at the Source of the
// element it is about.
//
// After a load that patched its resolution from the last one (see
// patchServices), when that one had no problem, the services that did not
// change are not checked again: what they are checked against (the names
// of the services, their kinds and dependencies, the [auth] policies,
// every route when none changed) is what it was.
func Validate(r *Resolved) tsk.Diagnostics {
	p := r.Platform
	v := &validator{p: p, canonical: r.canonical}
	names := r.ServiceNames()
	valid := tsk.TableOf[validKey, bool](r.memo(), "composer.validate")
	changed, routesChanged, patched := r.res.changedSinceClean()
	if patched {
		for _, i := range changed {
			at := r.res.order[i]
			v.serviceMemo(valid, at.name, at.s, at.rs.Src)
			v.references(at.s, at.rs.Src, names)
		}
		switch {
		case !routesChanged:
			r.res.routes = r.res.lastRoutes
		case r.res.lastRoutes != nil:
			v.changedRoutes(r, changed)
		default:
			v.routes(r, serviceOrder(r, names))
		}
	} else {
		order := serviceOrder(r, names)
		for _, name := range order {
			s, rs := p.Services[name], r.Services[name]
			if s == nil || rs == nil {
				continue
			}
			v.serviceMemo(valid, name, s, rs.Src)
			v.references(s, rs.Src, names)
		}
		v.routes(r, order)
	}
	if _, _, err := net.SplitHostPort(p.Mesh.Listen); err != nil {
		v.at(r.Src.Key("mesh").Key("listen"), "[mesh] listen %q is not a host:port such as \"127.0.0.1:9191\"", p.Mesh.Listen)
	}
	if host, _, err := net.SplitHostPort(p.Composer.Admin); err != nil {
		v.at(r.Src.Key("composer").Key("admin"), "admin %q is not a host:port such as \"127.0.0.1:9090\"", p.Composer.Admin)
	} else if !IsLoopback(host) && p.Composer.AdminToken == "" {
		v.at(r.Src.Key("composer").Key("admin"), "admin %q is not a loopback address, and the admin API reloads the platform, publishes events and shows its internals: "+
			"set admin_token (admin_token: @env(\"COMPOSER_ADMIN_TOKEN\")) or listen on 127.0.0.1", p.Composer.Admin)
	}
	v.tls(r)
	if m := p.Notifications.SMTP; r.Src.Key("notifications").Has("smtp") {
		at := r.Src.Key("notifications").Key("smtp")
		switch {
		case m.Host == "":
			v.at(at, "smtp needs host: the SMTP server, such as \"127.0.0.1\"")
		case m.From == "":
			v.at(at, "smtp needs from: the sender's address, such as \"shop@example.com\"")
		}
		if addr, err := mail.ParseAddress(m.From); m.From != "" && (err != nil || addr.Address == "") {
			v.at(at.Key("from"), "from %q is not an email address", m.From)
		}
		if m.Port < 0 || m.Port > 65535 {
			v.at(at.Key("port"), "port %d is not 0 (587 with starttls, else 25) to 65535", m.Port)
		}
		if p.Services["notifications"] == nil {
			v.at(at, "[notifications] smtp is for the built-in notifications service, which the platform does not have")
		}
	}
	if patched && r.res.authSame {
		v.auth(r, changedNames(r, changed))
	} else {
		v.auth(r, names)
	}
	if _, err := ratelimit.ParseProxies(p.Composer.TrustedProxies); err != nil {
		v.at(r.Src.Key("composer").Key("trusted_proxies"), "%v", err)
	}
	if p.Composer.DrainTimeout < 0 {
		v.at(r.Src.Key("composer").Key("drain_timeout"), "drain_timeout cannot be negative")
	}
	switch {
	case patched && !routesChanged:
		r.res.routesSplit = r.res.lastRoutesSplit
	case patched && r.res.lastRoutesSplit && r.res.routes != nil && v.changedRoutesSplit(r, changed):
		v.changedRouteConflicts(r, changed)
	default:
		v.routeConflicts(r, serviceOrder(r, names))
	}
	if !patched {
		v.cycles(r, names)
	}
	events := r.Src.Key("events")
	v.oneOf(events.Key("bus"), p.Events.Bus, buses)
	if p.Events.Bus == "kafka" && len(p.Events.Brokers) == 0 {
		v.at(events, `the kafka bus needs brokers: ["127.0.0.1:9092"]`)
	}
	v.kafka(events, p.Events)
	v.retry(events.Key("retry"), p.Events.Retry)
	for _, name := range sortedKeys(p.EventRoutes) {
		route, src := p.EventRoutes[name], r.EventRoutes[name].Src
		if route.Filter != "" {
			v.filter(src.Key("filter"), route.Filter)
		}
		v.retry(src.Key("retry"), route.Retry)
		if route.DeadLetter != "" && route.DeadLetter == route.Topic {
			v.at(src.Key("dead_letter"), "the dead-letter topic cannot be the route's own topic %q", route.Topic)
		}
		for i, to := range route.To {
			at := src.Key("to").Item(i)
			if strings.Contains(to, "://") {
				if u, err := url.Parse(to); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					v.at(at, "event route target %q is neither a service nor an http:// or https:// URL", to)
				}
				continue
			}
			svc, path := EventTarget(to)
			s, ok := p.Services[svc]
			switch {
			case !ok:
				v.at(at, "event route target %q is not a service%s", to, suggest(svc, names))
			case s.Kind == "builtin":
				if d := services.Lookup(svc); d == nil || !d.Consumes {
					v.at(at, "event route target %q: the built-in %s does not consume events (give a URL, or an http or process service)", to, svc)
				} else if path != "" {
					v.at(at, "event route target %q: the built-in %s takes events itself; name it without a path", to, svc)
				}
			}
		}
	}
	cbs := r.Src.Key("circuit_breaker")
	v.slowCalls(cbs, p.CircuitBreaker.CircuitBreaker)
	for _, name := range sortedKeysOf(r, "circuit_breaker", p.CircuitBreaker.PerTarget) {
		v.slowCalls(cbs.Key(name), p.CircuitBreaker.PerTarget[name])
	}
	hcs := r.Src.Key("health_checks")
	v.outlier(hcs.Key("outlier_detection"), p.HealthChecks.OutlierDetection)
	if pr := p.HealthChecks.Protocol; pr != "" {
		v.oneOf(hcs.Key("protocol"), pr, healthProtocols)
	}
	for _, name := range sortedKeysOf(r, "health_checks", p.HealthChecks.PerService) {
		v.outlier(hcs.Key(name).Key("outlier_detection"), p.HealthChecks.PerService[name].OutlierDetection)
		if pr := p.HealthChecks.PerService[name].Protocol; pr != "" {
			v.oneOf(hcs.Key(name).Key("protocol"), pr, healthProtocols)
		}
	}
	blocks(v, r.Src.Key("circuit_breaker"), "circuit_breaker", sortedKeysOf(r, "circuit_breaker", p.CircuitBreaker.PerTarget), names)
	blocks(v, r.Src.Key("health_checks"), "health_checks", sortedKeysOf(r, "health_checks", p.HealthChecks.PerService), names)
	diags := v.diags.Sort()
	if r.res != nil {
		r.res.clean.Store(len(diags) == 0)
	}
	return diags
}

// references checks what a service names: the services it calls and
// depends on, and how it depends on them.
func (v *validator) references(s *Service, src Source, names []string) {
	p := v.p
	for i, c := range s.Calls {
		if p.Services[c] == nil {
			v.at(src.Key("calls").Item(i), "%q is not a service%s", c, suggest(c, names))
		}
	}
	for i, d := range s.DependsOn {
		at := src.Key("depends_on").Entry(d.Service, i)
		if p.Services[d.Service] == nil {
			v.at(at, "%q is not a service%s", d.Service, suggest(d.Service, names))
			continue
		}
		v.oneOf(at, d.Condition, conditions)
		if d.Condition == "completed" && p.Services[d.Service] != nil && p.Services[d.Service].Kind != "process" {
			v.at(at, "only a process can complete; %s is a %s service", d.Service, p.Services[d.Service].Kind)
		}
	}
}

// routes checks every service's routes, in file order (order): each must
// be a path, and only one service declares it. Without a problem, the
// routes by service are kept in r's resolution for the next load
// (changedRoutes).
func (v *validator) routes(r *Resolved, order []string) {
	routes := make(map[string]string, len(order)) // route -> the service that declared it first
	mark := len(v.diags)
	defer func() {
		if r.res != nil && len(v.diags) == mark {
			r.res.routes = routes
		}
	}()
	for _, name := range order {
		s, rs := v.p.Services[name], r.Services[name]
		if s == nil || rs == nil {
			continue
		}
		src := rs.Src
		for i, route := range s.Routes {
			first, dup := routes[route]
			if v.declaration(func() Source { return src.Key("routes").Item(i) }, route, name, first, dup) {
				routes[route] = name
			}
		}
	}
}

// declaration checks one declaration of route by service name (at: where
// it is written, asked for a problem only), first being the service that
// declared it before in file order (dup: one did). It reports whether
// name serves the route from here on.
func (v *validator) declaration(at func() Source, route, name, first string, dup bool) bool {
	switch {
	case !validRoute(route):
		v.at(at(), "route %q must start with / (or with a host: \"api.example.com/users/:id\")", route)
	case dup && first == name:
		v.at(at(), "route %q is declared twice in %s", route, name)
	case dup:
		v.at(at(), "route %q is already served by %s", route, first)
	default:
		return true
	}
	return false
}

// changedRoutes checks the routes of the services that changed (places
// in r's order) since a resolution without a problem, whose routes by
// service it starts from: each route that one of them declared or
// declares now is checked as routes does, over every service that
// declares it, in file order; no other route can have a problem.
func (v *validator) changedRoutes(r *Resolved, changed []int) {
	res := r.res
	routes := maps.Clone(res.lastRoutes)
	type decl struct{ place, item int }
	affected := map[string][]decl{}
	for j, i := range changed {
		name := res.order[i].name
		for _, route := range res.was[j].s.Routes {
			if routes[route] == name {
				delete(routes, route)
			}
			affected[route] = nil
		}
		for _, route := range res.order[i].s.Routes {
			affected[route] = nil
		}
	}
	for route := range affected {
		if owner, ok := routes[route]; ok { // an unchanged service's
			place := res.index[owner]
			affected[route] = append(affected[route], decl{place, slices.Index(res.order[place].s.Routes, route)})
		}
	}
	for _, i := range changed {
		for k, route := range res.order[i].s.Routes {
			affected[route] = append(affected[route], decl{i, k})
		}
	}
	mark := len(v.diags)
	for route, decls := range affected {
		slices.SortFunc(decls, func(a, b decl) int { return cmp.Or(a.place-b.place, a.item-b.item) })
		first, dup := "", false
		for _, d := range decls {
			name := res.order[d.place].name
			if v.declaration(func() Source { return r.Services[name].Src.Key("routes").Item(d.item) }, route, name, first, dup) {
				first, dup = name, true
			}
		}
		if dup {
			routes[route] = first
		} else {
			delete(routes, route)
		}
	}
	if len(v.diags) == mark {
		res.routes = routes
	}
}

// allRoutedByFirstSegment reports whether every route of the services
// (order) is host-less and RoutedByFirstSegment: only routes of one first
// segment can conflict then.
func allRoutedByFirstSegment(p *Platform, order []string) bool {
	for _, name := range order {
		if s := p.Services[name]; s != nil {
			for _, route := range s.Routes {
				if host, path := SplitRoute(route); host != "" || !RoutedByFirstSegment(path) {
					return false
				}
			}
		}
	}
	return true
}

// changedRoutesSplit reports whether the routes of the services that
// changed (places in r's order) are all host-less and routed by their
// first segment, as the others are (the caller knows); it records that
// every route is, for the next load.
func (v *validator) changedRoutesSplit(r *Resolved, changed []int) bool {
	for _, i := range changed {
		for _, route := range r.res.order[i].s.Routes {
			if host, path := SplitRoute(route); host != "" || !RoutedByFirstSegment(path) {
				return false
			}
		}
	}
	r.res.routesSplit = true
	return true
}

// changedRouteConflicts is routeConflicts after a clean load when every
// route is host-less and routed by its first segment (changedRoutesSplit)
// and only the services at places changed changed: only routes of a first
// segment that one of their routes has can conflict. Those routes (r's
// routes by service, from changedRoutes, hold every route) go into a
// router in file order, each first segment on its own, as routeConflicts
// does.
func (v *validator) changedRouteConflicts(r *Resolved, changed []int) {
	res := r.res
	segments := map[string]bool{}
	for _, i := range changed {
		for _, route := range res.order[i].s.Routes {
			if validRoute(route) {
				segments[FirstSegment(route)] = true
			}
		}
	}
	type entry struct {
		route       string
		place, item int
	}
	bySegment := map[string][]entry{}
	for route, name := range res.routes {
		if seg := FirstSegment(route); segments[seg] {
			place := res.index[name]
			bySegment[seg] = append(bySegment[seg], entry{route, place, slices.Index(res.order[place].s.Routes, route)})
		}
	}
	for _, entries := range bySegment {
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Or(a.place-b.place, a.item-b.item) })
		router := gin.New()
		for _, e := range entries {
			if msg := tryRoute(router, e.route); msg != "" {
				name := res.order[e.place].name
				v.at(r.Services[name].Src.Key("routes").Item(e.item), "route %q conflicts with another route: %s", e.route, msg)
			}
		}
	}
}

// blocks reports the per-service blocks of a section (keys: their
// names) that name no service (names, sorted).
func blocks(v *validator, section Source, name string, keys, names []string) {
	for _, key := range keys {
		if _, found := slices.BinarySearch(names, key); !found { // names are sorted
			v.at(section.Key(key), "%s: %q is not a service, nor a key of [%s]%s", name, key, name, suggest(key, names))
		}
	}
}

// validKey is a service's key in the memo of services whose own
// settings had no problem.
type validKey struct {
	name string
	s    *Service
	src  *tsk.Value
}

// serviceMemo is service, skipped when the last load found nothing
// wrong in the same service written at the same place.
func (v *validator) serviceMemo(memo *tsk.Table[validKey, bool], name string, s *Service, src Source) {
	k := validKey{name, s, v.canonical(src.Value())}
	if _, ok := memo.Get(k); ok && k.src != nil {
		return
	}
	mark := len(v.diags)
	v.service(name, s, src)
	if len(v.diags) == mark && k.src != nil {
		memo.Put(k, true)
	}
}

// service checks a service's own settings: what needs no other service.
func (v *validator) service(name string, s *Service, src Source) {
	v.oneOf(src.Key("kind"), s.Kind, serviceKinds)
	switch s.Kind {
	case "builtin":
		d := services.Lookup(name)
		if d == nil {
			v.at(src, "there is no built-in service %q (the built-in services are %s)%s",
				name, strings.Join(services.Builtin, ", "), suggest(name, services.Builtin))
			break
		}
		for i, route := range s.Routes {
			if _, path := SplitRoute(route); !slices.Contains(d.Routes, path) {
				v.at(src.Key("routes").Item(i), "the built-in %s serves %s, not %q%s", name, strings.Join(d.Routes, ", "), route, suggest(route, d.Routes))
			}
		}
	case "http":
		if s.Instances.Count > 0 {
			v.at(src.Key("instances"), "an http service's instances are URLs: [\"http://127.0.0.1:7001\", ...]; a number of copies is for a process")
		} else if len(s.Instances.URLs) == 0 && s.Discovery != "registry" {
			v.at(src, "an http service needs instances: [\"http://127.0.0.1:7001\", ...]")
		}
		for i, inst := range s.Instances.URLs {
			if u, err := url.Parse(inst); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.at(src.Key("instances").Item(i), "instance %q is not an http:// or https:// URL", inst)
			}
		}
		if s.LoadBalancer != "" {
			v.oneOf(src.Key("load_balancer"), s.LoadBalancer, loadBalancers)
		}
		v.hashOn(src, s)
		if s.Protocol != "" {
			v.oneOf(src.Key("protocol"), s.Protocol, protocols)
		}
		if s.Discovery != "" {
			v.oneOf(src.Key("discovery"), s.Discovery, discoveries)
		}
	case "process":
		if len(s.Command) == 0 {
			v.at(src, "a process service needs a command: [\"./bin/app\", \"--port\", \"${PORT}\"]")
		}
		if s.Restart != "" {
			v.oneOf(src.Key("restart"), s.Restart, restarts)
		}
		if s.LoadBalancer != "" {
			v.oneOf(src.Key("load_balancer"), s.LoadBalancer, loadBalancers)
		}
		v.hashOn(src, s)
		if s.Protocol != "" {
			v.oneOf(src.Key("protocol"), s.Protocol, protocols)
		}
		if s.Instances.URLs != nil {
			v.at(src.Key("instances"), "a process service's instances is a number of copies, such as 2")
		}
		if s.StopSignal != "" {
			if _, ok := signals[strings.ToUpper(s.StopSignal)]; !ok {
				v.at(src.Key("stop_signal"), "%q is not one of SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2", s.StopSignal)
			}
		}
		if s.Port < 0 || s.Port > 65535 {
			v.at(src.Key("port"), "port %d is not 0 (any free port) to 65535", s.Port)
		}
		if s.MaxRestarts < 0 {
			v.at(src.Key("max_restarts"), "max_restarts cannot be negative")
		}
	}
	for _, key := range []string{"failure_codes", "retry_on"} {
		codes := s.FailureCodes
		if key == "retry_on" {
			codes = s.RetryOn
		}
		for i, c := range codes {
			if _, ok := gateway.CodeOf(c); !ok {
				v.at(src.Key(key).Item(i), "%q is not a gRPC status code (%s)%s", c, strings.Join(gateway.GRPCCodes[:], ", "),
					suggest(strings.ToLower(c), gateway.GRPCCodes[:]))
			}
		}
	}
	if src.Has("cors") {
		c := s.CORS
		switch {
		case len(c.AllowOrigins) == 0:
			v.at(src.Key("cors"), `cors needs allow_origins: ["https://app.example.com"] (or ["*"] for any)`)
		case c.AllowCredentials && slices.Contains(c.AllowOrigins, "*"):
			v.at(src.Key("cors").Key("allow_credentials"), `allow_credentials cannot go with allow_origins "*": browsers refuse it; name the origins`)
		}
		for i, o := range c.AllowOrigins {
			if o != "*" && !validOrigin(o) {
				v.at(src.Key("cors").Key("allow_origins").Item(i), "origin %q is not \"*\" or scheme://host[:port] (one * allowed in the host)", o)
			}
		}
		if c.MaxAge < 0 {
			v.at(src.Key("cors").Key("max_age"), "max_age cannot be negative")
		}
	}
	if s.PathRewrite != "" && !strings.HasPrefix(s.PathRewrite, "/") {
		v.at(src.Key("path_rewrite"), "path_rewrite %q must start with /", s.PathRewrite)
	}
	for key, d := range map[string]time.Duration{"retry_backoff": s.RetryBackoff, "max_retry_backoff": s.MaxRetryBackoff,
		"deadline": s.Deadline, "timeout": s.Timeout, "stream_idle_timeout": s.StreamIdleTimeout, "stream_timeout": s.StreamTimeout} {
		if d < 0 {
			v.at(src.Key(key), "%s cannot be negative", key)
		}
	}
	if s.Retries < 0 {
		v.at(src.Key("retries"), "retries cannot be negative")
	}
	if s.RetryBackoff > 0 && s.MaxRetryBackoff > 0 && s.MaxRetryBackoff < s.RetryBackoff {
		v.at(src.Key("max_retry_backoff"), "max_retry_backoff %s is less than retry_backoff %s", s.MaxRetryBackoff, s.RetryBackoff)
	}
	if b := s.RetryBudget; b.Ratio < 0 || b.MinPerSecond < 0 {
		v.at(src.Key("retry_budget"), "retry_budget: ratio and min_per_second cannot be negative")
	}
	if s.RetryBodyLimit < 0 || s.MaxBodySize < 0 {
		v.at(src, "retry_body_limit and max_body_size are sizes in bytes, not negative")
	}
}

type validator struct {
	p         *Platform
	diags     tsk.Diagnostics
	canonical func(*tsk.Value) *tsk.Value // the document's (see Resolved.canonical)
}

// at reports a problem at an element's range.
func (v *validator) at(src Source, format string, args ...any) {
	d := tsk.Errorf(src.Pos(), format, args...)
	d.End = src.End()
	v.diags = append(v.diags, d)
}

// kafka checks the Kafka settings of [events].
func (v *validator) kafka(src Source, e Events) {
	for i, b := range e.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			v.at(src.Key("brokers").Item(i), "broker %q is not a host:port such as \"127.0.0.1:9092\"", b)
		}
	}
	if m := e.SASL.Mechanism; m != "" {
		if !slices.Contains(kafkabus.Mechanisms, strings.ToUpper(m)) {
			v.at(src.Key("sasl").Key("mechanism"), "%q is not one of %s%s", m, strings.Join(kafkabus.Mechanisms, ", "), suggest(strings.ToUpper(m), kafkabus.Mechanisms))
		}
		if e.SASL.Username == "" {
			v.at(src.Key("sasl"), "SASL needs a username")
		}
	}
	if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
		v.at(src.Key("tls"), "cert_file and key_file go together")
	}
	if e.Topics.Partitions < 1 {
		v.at(src.Key("topics").Key("partitions"), "partitions must be at least 1")
	}
	if e.Topics.ReplicationFactor < 1 {
		v.at(src.Key("topics").Key("replication_factor"), "replication_factor must be at least 1")
	}
	if e.BatchSize < 1 {
		v.at(src.Key("batch_size"), "batch_size must be at least 1")
	}
	if e.Linger < 0 {
		v.at(src.Key("linger"), "linger cannot be negative")
	}
}

// tls checks [composer] tls: a key for every certificate, files that
// load as a pair, hosts for every extra certificate, a redirect address.
func (v *validator) tls(r *Resolved) {
	t, src := r.Platform.Composer.TLS, r.Src.Key("composer").Key("tls")
	if t.CertFile == "" && t.KeyFile == "" && len(t.Certificates) == 0 {
		if t.RedirectHTTP != "" {
			v.at(src.Key("redirect_http"), "redirect_http redirects to HTTPS: it needs cert_file and key_file")
		}
		return
	}
	// pair checks that a certificate and its key exist and load together.
	pair := func(at Source, written, abs gateway.CertPair) {
		for _, f := range []struct{ key, written, abs string }{{"cert_file", written.CertFile, abs.CertFile}, {"key_file", written.KeyFile, abs.KeyFile}} {
			if _, err := os.Stat(f.abs); err != nil {
				v.at(at.Key(f.key), "tls %s %q: no such file (relative to the platform file)", f.key, f.written)
				return
			}
		}
		if _, err := tls.LoadX509KeyPair(abs.CertFile, abs.KeyFile); err != nil {
			v.at(at.Key("cert_file"), "tls: %q and %q are not a certificate and its key: %v", written.CertFile, written.KeyFile, err)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.at(src, "tls needs both cert_file and key_file")
	} else if t.CertFile != "" {
		pair(src, gateway.CertPair{CertFile: t.CertFile, KeyFile: t.KeyFile}, r.Composer.TLS.Default)
	}
	for i, c := range r.Composer.TLS.Certificates {
		at := src.Key("certificates").Item(i)
		if len(c.Hosts) == 0 {
			v.at(at.Key("hosts"), "a certificate names the hosts it serves: hosts: [\"api.example.com\"]")
		}
		pair(at, gateway.CertPair{CertFile: t.Certificates[i].CertFile, KeyFile: t.Certificates[i].KeyFile}, c)
	}
	if t.RedirectHTTP != "" {
		if _, _, err := net.SplitHostPort(t.RedirectHTTP); err != nil {
			v.at(src.Key("redirect_http"), "redirect_http %q is not a host:port such as \"127.0.0.1:8081\"", t.RedirectHTTP)
		}
	}
}

// auth checks [auth] (each policy compiles: its kind, its secret or its
// files) and what refers to it: [auth] default, each service's auth and
// the key of its rate_limit.
func (v *validator) auth(r *Resolved, names []string) {
	p := r.Platform
	src := r.Src.Key("auth")
	policies := sortedKeys(p.Auth.Policies)
	for _, name := range policies {
		if err := auth.Validate(name, r.Auth[name]); err != nil {
			v.at(src.Key(name), "auth.%s: %v", name, err)
		}
	}
	known := func(at Source, name string) {
		if name != "" && name != "none" && !slices.Contains(policies, name) {
			v.at(at, "%q is not a policy of [auth]%s", name, suggest(name, policies))
		}
	}
	known(src.Key("default"), p.Auth.Default)
	for _, name := range names {
		s, rs := p.Services[name], r.Services[name]
		svc := r.Services[name].Src
		if s.Auth != "" {
			known(svc.Key("auth"), s.Auth)
		}
		rl := s.RateLimit
		if !svc.Has("rate_limit") {
			continue
		}
		at := svc.Key("rate_limit")
		switch {
		case rl.Requests < 1:
			v.at(at, "rate_limit needs requests: how many a client may make per `per` (default 1s)")
		case rl.Per < 0 || rl.Burst < 0:
			v.at(at, "rate_limit: per and burst cannot be negative")
		case rl.Key != "" && !ratelimit.ValidKey(rl.Key):
			v.at(at.Key("key"), "rate_limit key %q is not client_ip, header:NAME, jwt:CLAIM or api_key", rl.Key)
		case strings.HasPrefix(rl.Key, "jwt:") && (rs.Auth == "" || p.Auth.Policies[rs.Auth].Kind != "jwt"):
			v.at(at.Key("key"), "rate_limit key %q needs the service's auth to be a jwt policy", rl.Key)
		case rl.Key == "api_key" && (rs.Auth == "" || p.Auth.Policies[rs.Auth].Kind != "api_key"):
			v.at(at.Key("key"), "rate_limit key \"api_key\" needs the service's auth to be an api_key policy")
		}
	}
}

// validOrigin reports whether a CORS origin is scheme://host[:port],
// with at most one * in the host.
func validOrigin(o string) bool {
	u, err := url.Parse(strings.Replace(o, "*", "wildcard", 1))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" &&
		u.RawQuery == "" && strings.Count(o, "*") <= 1
}

// IsLoopback reports whether a listen address's host is loopback only:
// localhost, 127.0.0.0/8 or ::1 (an empty host is every interface).
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hashOn checks consistent_hash's key: a header, a cookie or the
// client's address.
func (v *validator) hashOn(src Source, s *Service) {
	switch {
	case s.LoadBalancer == "consistent_hash" && s.HashOn == "":
		v.at(src.Key("load_balancer"), `consistent_hash needs hash_on: "header:NAME", "cookie:NAME" or "client_ip"`)
	case s.HashOn != "" && s.LoadBalancer != "consistent_hash":
		v.at(src.Key("hash_on"), `hash_on is for load_balancer: "consistent_hash"`)
	case s.HashOn != "" && !gateway.ValidHashOn(s.HashOn):
		v.at(src.Key("hash_on"), `hash_on %q is not "header:NAME", "cookie:NAME" or "client_ip"`, s.HashOn)
	}
}

// slowCalls checks the slow-call rule of a breaker block.
func (v *validator) slowCalls(src Source, cb CircuitBreaker) {
	if cb.SlowCallRatio < 0 || cb.SlowCallRatio > 1 {
		v.at(src.Key("slow_call_ratio"), "slow_call_ratio %g is not 0 to 1", cb.SlowCallRatio)
	}
	if cb.SlowCallDuration < 0 {
		v.at(src.Key("slow_call_duration"), "slow_call_duration cannot be negative")
	}
	if src.Has("slow_call_ratio") && cb.SlowCallRatio > 0 && cb.SlowCallDuration == 0 && !src.Has("slow_call_duration") && v.p.CircuitBreaker.SlowCallDuration == 0 {
		v.at(src.Key("slow_call_ratio"), `slow_call_ratio needs slow_call_duration ("2s"): how long a slow call is`)
	}
}

// outlier checks an outlier_detection block.
func (v *validator) outlier(src Source, o OutlierDetection) {
	if o.ConsecutiveFailures < 0 {
		v.at(src.Key("consecutive_failures"), "consecutive_failures cannot be negative (0 turns outlier detection off)")
	}
	if o.BaseEjectionTime < 0 || o.MaxEjectionTime < 0 {
		v.at(src, "ejection times cannot be negative")
	}
	if o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100 {
		v.at(src.Key("max_ejection_percent"), "max_ejection_percent %d is not 0 to 100", o.MaxEjectionPercent)
	}
}

// retry checks a retry block.
func (v *validator) retry(src Source, r Retry) {
	if r.Attempts < 0 {
		v.at(src.Key("attempts"), "attempts cannot be negative")
	}
	if r.Backoff < 0 {
		v.at(src.Key("backoff"), "backoff cannot be negative")
	}
	if r.MaxBackoff < 0 {
		v.at(src.Key("max_backoff"), "max_backoff cannot be negative")
	}
}

// filter reports the problems of a route's filter expression, each at its
// place inside the expression's string.
func (v *validator) filter(src Source, expr string) {
	_, err := eventfilter.Compile(expr)
	var errs eventfilter.Errors
	if !errors.As(err, &errs) {
		return
	}
	at := src.Pos()
	for _, e := range errs {
		pos := at
		if e.Line == 1 {
			pos.Column += e.Column // after the opening quote
		} else {
			pos.Line += e.Line - 1
			pos.Column = e.Column
		}
		v.diags = append(v.diags, tsk.Errorf(pos, "filter: %s", e.Msg))
	}
}

func (v *validator) oneOf(src Source, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.at(src, "%q is not one of %s%s", value, strings.Join(allowed, ", "), suggest(value, allowed))
	}
}

// cycles reports each dependency cycle of depends_on once, at the first
// service of the cycle in name order.
func (v *validator) cycles(r *Resolved, names []string) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		s := v.p.Services[name]
		for i, d := range s.DependsOn {
			dep := d.Service
			if _, ok := v.p.Services[dep]; !ok {
				continue // reported as an unknown reference
			}
			switch state[dep] {
			case visiting:
				at := slices.Index(stack, dep)
				chain := append(slices.Clone(stack[at:]), dep)
				v.at(r.Services[name].Src.Key("depends_on").Entry(d.Service, i), "dependency cycle: %s", strings.Join(chain, " -> "))
			case unvisited:
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range names {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// serviceOrder returns the service names in file order, so that "already
// served by" names the earlier declaration.
func serviceOrder(r *Resolved, sorted []string) []string {
	if keys := r.Src.Key("services").Keys(); len(keys) == len(sorted) {
		return keys
	}
	return sorted
}

// sortedKeysOf is sortedKeys(m), the list the last load sorted (kept in
// r's memo as name) when m has the same keys: finding each costs a lookup,
// sorting them again a few comparisons of names per key. The list is
// shared: read it only.
func sortedKeysOf[T any](r *Resolved, name string, m map[string]T) []string {
	table := tsk.TableOf[string, []string](r.memo(), "composer.sorted-keys")
	if last, ok := table.Get(name); ok && len(last) == len(m) && hasAll(m, last) {
		return last
	}
	keys := sortedKeys(m)
	table.Put(name, keys)
	return keys
}

// ServiceNames returns the names of r's services, sorted: the list the
// last load sorted when the names are the same (sortedKeysOf). The list
// is shared: read it only.
func (r *Resolved) ServiceNames() []string { return sortedKeysOf(r, "services", r.Services) }

// BreakerNames returns the call targets of r's breakers, sorted, as
// ServiceNames does. The list is shared: read it only.
func (r *Resolved) BreakerNames() []string { return sortedKeysOf(r, "breakers", r.Breakers) }

// hasAll reports whether m has every key of keys.
func hasAll[T any](m map[string]T, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func suggest(name string, candidates []string) string {
	if s := tsk.Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// routeConflicts registers every route on a gin router, the gateway's, and
// reports the routes it refuses: `/users/:id` next to `/users/:name`, or a
// catch-all that hides another route. (Identical routes are reported
// before, with the service that declared them first.) Routes whose first
// segments are all static (RoutedByFirstSegment) conflict only with routes
// of the same first segment, so they are tried in groups of about sixteen
// by first segment, and a group the memo found without conflict (the same
// paths in the same order) is not tried again.
func (v *validator) routeConflicts(r *Resolved, order []string) {
	// The router of every host, and one per host that routes of its own
	// name: its routes beside the host-less ones, as the gateway has them.
	hosts := []string{""}
	for _, name := range order {
		if s := v.p.Services[name]; s != nil {
			for _, route := range s.Routes {
				if host, _ := SplitRoute(route); host != "" && !slices.Contains(hosts, host) {
					hosts = append(hosts, host)
				}
			}
		}
	}
	type entry struct {
		route, path, service string
		i                    int // in the service's routes
	}
	memo := tsk.TableOf[routesKey, bool](r.memo(), "composer.routes")
	// All the routes, in order, as the last load had them: no conflict
	// still (an edit elsewhere, the commonest).
	var all maphash.Hash
	all.SetSeed(routesSeed)
	n := 0
	for _, name := range order {
		if s := v.p.Services[name]; s != nil && r.Services[name] != nil {
			all.WriteString(name)
			all.WriteByte(0)
			for _, route := range s.Routes {
				all.WriteString(route)
				all.WriteByte(0)
				n++
			}
			all.WriteByte(1)
		}
	}
	whole := routesKey{all.Sum64(), uint64(n), true}
	if r.res != nil {
		r.res.routesSplit = len(hosts) == 1 && allRoutedByFirstSegment(v.p, order)
	}
	if _, ok := memo.Get(whole); ok {
		return
	}
	mark := len(v.diags)
	defer func() {
		if len(v.diags) == mark {
			memo.Put(whole, true)
		}
	}()
	reported := map[string]bool{}
	for _, host := range hosts {
		own := map[string]bool{} // the host's own paths win over host-less ones
		for _, name := range order {
			if s := v.p.Services[name]; s != nil {
				for _, route := range s.Routes {
					if h, path := SplitRoute(route); host != "" && h == host {
						own[path] = true
					}
				}
			}
		}
		seen := make(map[string]bool, n)
		entries := make([]entry, 0, n)
		split := true
		for _, name := range order {
			s, rs := v.p.Services[name], r.Services[name]
			if s == nil || rs == nil {
				continue
			}
			for i, route := range s.Routes {
				h, path := SplitRoute(route)
				if seen[route] || !validRoute(route) || h != host && !(h == "" && !own[path]) {
					continue
				}
				seen[route] = true
				entries = append(entries, entry{route, path, name, i})
				split = split && RoutedByFirstSegment(path)
			}
		}
		groups := make([][]entry, 1)
		if split {
			groups = make([][]entry, max(1, len(entries)/16))
		}
		for _, e := range entries {
			g := 0
			if split {
				g = int(maphash.String(routesSeed, FirstSegment(e.path)) % uint64(len(groups)))
			}
			groups[g] = append(groups[g], e)
		}
		for _, group := range groups {
			var h maphash.Hash
			h.SetSeed(routesSeed)
			for _, e := range group {
				h.WriteString(e.path)
				h.WriteByte(0)
			}
			k := routesKey{h.Sum64(), uint64(len(group)), false}
			if _, ok := memo.Get(k); ok || len(group) == 0 {
				continue
			}
			mark := len(v.diags)
			router := gin.New()
			for _, e := range group {
				if msg := tryRoute(router, e.path); msg != "" && !reported[e.route] {
					reported[e.route] = true
					v.at(r.Services[e.service].Src.Key("routes").Item(e.i), "route %q conflicts with another route: %s", e.route, msg)
				}
			}
			if len(v.diags) == mark {
				memo.Put(k, true)
			}
		}
	}
}

// FirstSegment is a route path's first segment: "users" of "/users/:id",
// "" of "/".
func FirstSegment(path string) string {
	path = strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return path
}

// RoutedByFirstSegment reports whether a route path's first segment is
// static (no parameter, no wildcard): among routes that all are, a
// request's first segment names the only ones that can match it, and
// only routes of one first segment can conflict.
func RoutedByFirstSegment(path string) bool { return !strings.ContainsAny(FirstSegment(path), ":*") }

// routesKey is a group of routes, in order, in the memo of those without
// conflict: a 64-bit hash of their paths and their count; or, whole, all
// the routes of a platform with their services.
type routesKey struct {
	sum, n uint64
	whole  bool
}

var routesSeed = maphash.MakeSeed()

// hostPattern is a host a route may name: DNS labels.
var hostPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// validRoute reports whether a route is a path ("/users/:id") or a host
// and a path ("api.example.com/users/:id").
func validRoute(route string) bool {
	host, path := SplitRoute(route)
	return strings.HasPrefix(path, "/") && (host == "" || hostPattern.MatchString(host))
}

func init() {
	// gin's debug mode prints every route it registers; the composer
	// reports its own way.
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
}

// tryRoute adds a route to router and returns gin's complaint, if any.
func tryRoute(router *gin.Engine, route string) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	router.Handle(http.MethodGet, route, func(*gin.Context) {})
	return ""
}
