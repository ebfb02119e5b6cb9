package composer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/eventfilter"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/internal/metrics"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/tracing"
	"github.com/tuskcompose/composer/services"
	"github.com/tuskcompose/composer/tsk"
)

// Runner runs a platform file: it builds a generation (the gateway's
// routes, breakers, balancers, health checks, event route consumers) from
// the file, serves it, and replaces it with the next one on every reload.
// Components whose settings did not change are carried over to the next
// generation with what they learned (an open breaker stays open, a known
// unhealthy instance stays unhealthy). A reload that fails leaves the
// running generation alone.
//
// One goroutine at a time reloads (reloadMu); requests read the current
// generation without locks.
type Runner struct {
	path   string
	loader *tsk.Loader
	log    *slog.Logger

	gatewayLn, adminLn net.Listener
	gatewaySrv, admin  *http.Server

	store *store.Store
	bus   events.Bus    // the embedded bus, or Kafka
	kafka *kafkabus.Bus // when the bus is Kafka
	wake  chan struct{} // wakes the outbox relay
	// procOut receives the processes' output lines, coloured when
	// procColor (a terminal).
	procOut   io.Writer
	procColor bool
	// metrics is nil when [microservices_configuration] enable_metrics is
	// false.
	metrics *metrics.Metrics
	// counts feed the dashboard's rates; history is the last reloads
	// (guarded by reloadMu).
	counts  counters
	history []Reload
	// stopTracing flushes the trace exporter (nil when tracing is off).
	stopTracing func(context.Context) error
	busOK       atomic.Pointer[BusState]
	// projection is the Kafka consumer that keeps the event store; it is
	// restarted when the set of topics changes. Guarded by reloadMu.
	projection struct {
		topics []string
		cancel context.CancelFunc
		done   chan struct{}
	}
	// transports carry the calls to http services, one per try timeout;
	// their idle connections outlive generations. Guarded by reloadMu.
	transports map[time.Duration]http.RoundTripper

	ctx    context.Context // lives as long as the runner
	cancel context.CancelFunc
	bg     sync.WaitGroup

	reloadMu sync.Mutex
	current  *generation // guarded by reloadMu for writes; read through gen()
	genMu    sync.RWMutex
	status   Status
}

// Status is what /v1/status reports.
type Status struct {
	Generation int       `json:"generation"`
	Files      []string  `json:"files"`
	LastReload Reload    `json:"last_reload"`
	Started    time.Time `json:"started"`
	Bus        BusState  `json:"bus"`
}

// BusState says whether the event bus can be reached.
type BusState struct {
	Kind    string    `json:"kind"`  // embedded | kafka
	State   string    `json:"state"` // ok | degraded
	Error   string    `json:"error,omitempty"`
	Checked time.Time `json:"checked"`
}

// Reload is the result of one reload.
type Reload struct {
	Time        time.Time `json:"time"`
	OK          bool      `json:"ok"`
	Changed     bool      `json:"changed"`
	Diagnostics []string  `json:"diagnostics,omitempty"`
	Duration    string    `json:"duration"`
}

// generation is one running configuration.
type generation struct {
	inflight  atomic.Int64 // requests this generation's handler is serving
	processes map[string]*processGroup
	number    int
	platform  *Platform
	files     []string
	handler   http.Handler
	breakers  map[string]*breakerEntry
	services  map[string]*serviceEntry
	routes    map[string]*routeEntry
}

type breakerEntry struct {
	settings breaker.Settings
	b        *breaker.Breaker
}

type serviceEntry struct {
	svc      Service
	checks   health.Settings
	balancer *balancer.Balancer
	checker  *health.Checker
}

type routeEntry struct {
	route    EventRoute   // with the effective retry
	consumer events.Route // what the bus runs (replays too)
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewRunner loads the platform file and opens its store; Start serves it.
func NewRunner(path string, loader *tsk.Loader, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.Default()
	}
	p, doc, err := loadRunnable(loader, path)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(dataDir(path, p), "composer.db"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{path: path, loader: loader, log: log, store: st,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, transports: map[time.Duration]http.RoundTripper{}}
	if p.Events.Bus == "kafka" {
		cfg, err := KafkaConfig(p, log)
		if err != nil {
			st.Close()
			return nil, err
		}
		r.kafka = kafkabus.New(cfg)
		r.bus = r.kafka
		st.RequireNode() // the instances share the id space
		r.busOK.Store(&BusState{Kind: "kafka", State: "unknown"})
	} else {
		emb := events.NewEmbedded(st)
		emb.Poll = 250 * time.Millisecond
		r.bus = emb
		r.busOK.Store(&BusState{Kind: "embedded", State: "ok"})
	}
	st.OnEmit(func() {
		select {
		case r.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	})
	if r.gatewayLn, err = net.Listen("tcp", p.Composer.Listen); err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", p.Composer.Listen, err)
	}
	if r.adminLn, err = net.Listen("tcp", p.Composer.Admin); err != nil {
		r.gatewayLn.Close()
		st.Close()
		return nil, fmt.Errorf("admin: listen on %s: %w", p.Composer.Admin, err)
	}
	for _, w := range Warnings(doc) {
		log.Warn(w.Error())
	}
	r.status.Started = time.Now().UTC()
	start := time.Now()
	r.procOut, r.procColor = processOutput()
	if p.Configuration.EnableDistributedTracing {
		if r.stopTracing, err = tracing.Setup(ctx, p.Composer.OTLPEndpoint, p.Composer.Name); err != nil {
			r.gatewayLn.Close()
			r.adminLn.Close()
			st.Close()
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	if p.Configuration.EnableMetrics {
		r.metrics = metrics.New()
		r.metrics.Registry.MustRegister(stateCollector{r})
	}
	groups, err := r.prepareProcesses(p, nil)
	if err != nil {
		r.gatewayLn.Close()
		r.adminLn.Close()
		st.Close()
		return nil, err
	}
	g := r.build(p, doc.Files, nil, groups)
	r.current = g
	r.metrics.Generation(g.number)
	r.status.Generation, r.status.Files = g.number, doc.Files
	r.status.LastReload = Reload{Time: time.Now().UTC(), OK: true, Changed: true, Duration: time.Since(start).String()}
	r.history = append(r.history, r.status.LastReload)
	return r, nil
}

// dataDir is [composer] data_dir; a relative one is relative to the
// platform file's directory, as every path in the file is.
func dataDir(file string, p *Platform) string {
	if filepath.IsAbs(p.Composer.DataDir) {
		return p.Composer.DataDir
	}
	return filepath.Join(filepath.Dir(file), p.Composer.DataDir)
}

// GatewayAddr and AdminAddr are the addresses the runner listens on.
func (r *Runner) GatewayAddr() string { return r.gatewayLn.Addr().String() }

// AdminAddr is the admin API's address.
func (r *Runner) AdminAddr() string { return r.adminLn.Addr().String() }

func (r *Runner) gen() *generation {
	r.genMu.RLock()
	defer r.genMu.RUnlock()
	return r.current
}

// Start serves the gateway and the admin API and starts the outbox relay.
func (r *Runner) Start() {
	r.gatewaySrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			g := r.gen()
			g.inflight.Add(1)
			defer g.inflight.Add(-1)
			g.handler.ServeHTTP(w, req)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	r.admin = &http.Server{Handler: r.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{r.gatewaySrv, r.gatewayLn}, {r.admin, r.adminLn}} {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			if err := s.srv.Serve(s.ln); err != nil && err != http.ErrServerClosed {
				r.log.Error("serve", "addr", s.ln.Addr().String(), "err", err)
			}
		}()
	}
	var relayed events.Bus = r.bus
	if r.metrics != nil {
		relayed = countingBus{relayed, r.metrics}
	}
	if tracing.Enabled() {
		relayed = tracingBus{relayed}
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		events.Relay(r.ctx, r.store, relayed, r.wake, 250*time.Millisecond)
	}()
	r.startProcesses(r.gen())
	if r.kafka != nil {
		r.claimNode()
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.watchBus()
		}()
		r.reloadMu.Lock()
		r.project(r.gen().platform)
		r.reloadMu.Unlock()
	}
	r.log.Info("platform running", "gateway", r.GatewayAddr(), "admin", r.AdminAddr(), "generation", r.gen().number)
}

// Stop drains in-flight requests (up to ctx's deadline) and stops
// everything.
func (r *Runner) Stop(ctx context.Context) error {
	var err error
	if r.gatewaySrv != nil {
		err = r.gatewaySrv.Shutdown(ctx)
		r.admin.Shutdown(ctx)
	} else {
		r.gatewayLn.Close()
		r.adminLn.Close()
	}
	r.reloadMu.Lock()
	g := r.gen()
	r.stopProcesses(ctx, g)
	for name, s := range g.services {
		if s.checker != nil && g.processes[name] == nil {
			s.checker.Stop()
		}
	}
	for _, rt := range g.routes {
		rt.stop()
	}
	if r.projection.cancel != nil {
		r.projection.cancel()
		<-r.projection.done
	}
	r.reloadMu.Unlock()
	r.cancel()
	r.bg.Wait()
	if r.kafka != nil {
		r.kafka.Close()
	}
	if r.stopTracing != nil {
		r.stopTracing(ctx)
	}
	if cerr := r.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// drain waits until the requests that the generation's handler took have
// ended (up to limit): they may still pick the instances of a process
// that the next generation replaced.
func (g *generation) drain(limit time.Duration) {
	time.Sleep(20 * time.Millisecond) // a request that read the generation just before the swap
	deadline := time.Now().Add(limit)
	for g.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func (rt *routeEntry) stop() {
	rt.cancel()
	<-rt.done
}

// Reload reads the platform file again and, when it is valid and different,
// swaps the running generation for a new one. It returns the result, also
// kept for /v1/status.
func (r *Runner) Reload() Reload {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	start := time.Now()
	res := Reload{Time: start.UTC()}
	p, doc, err := loadRunnable(r.loader, r.path)
	cur := r.gen()
	switch {
	case err != nil:
		res.Diagnostics = diagnostics(err)
	case p.Composer.Listen != cur.platform.Composer.Listen || p.Composer.Admin != cur.platform.Composer.Admin ||
		p.Composer.DataDir != cur.platform.Composer.DataDir:
		res.Diagnostics = []string{fmt.Sprintf("%s: [composer] listen, admin and data_dir take effect at the next start; the running platform keeps its own", r.path)}
	case !sameBus(p, cur.platform):
		res.Diagnostics = []string{fmt.Sprintf("%s: [composer] name and the bus settings of [events] (all but retry) take effect at the next start; the running platform keeps its own", r.path)}
	case reflect.DeepEqual(p, cur.platform):
		res.OK = true
	default:
		groups, err := r.prepareProcesses(p, cur)
		if err != nil {
			res.Diagnostics = []string{fmt.Sprintf("%s: %v", r.path, err)}
			break
		}
		next := r.build(p, doc.Files, cur, groups)
		r.genMu.Lock()
		r.current = next
		r.genMu.Unlock()
		r.retire(cur, next)
		r.startProcesses(next)
		if r.kafka != nil {
			r.project(p)
		}
		res.OK, res.Changed = true, true
	}
	if doc != nil {
		r.status.Files = doc.Files
	}
	res.Duration = time.Since(start).String()
	r.status.LastReload = res
	r.history = append(r.history, res)
	if len(r.history) > 20 {
		r.history = r.history[len(r.history)-20:]
	}
	r.status.Generation = r.gen().number
	result := "failed"
	switch {
	case res.Changed:
		result = "applied"
	case res.OK:
		result = "unchanged"
	}
	r.metrics.Reload(result, time.Since(start), r.status.Generation)
	if res.OK {
		r.log.Info("reload", "generation", r.status.Generation, "changed", res.Changed, "took", res.Duration)
	} else {
		r.log.Error("reload failed; the running platform is unchanged", "diagnostics", res.Diagnostics)
	}
	return res
}

func diagnostics(err error) []string {
	if ds, ok := err.(tsk.Diagnostics); ok {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = d.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// retire stops what the old generation had and the new one does not use.
func (r *Runner) retire(old, next *generation) {
	for name, pg := range old.processes {
		if next.processes[name] != pg {
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				old.drain(10 * time.Second)
				pg.stop(r.ctx)
			}()
		}
	}
	for name, s := range old.services {
		if old.processes[name] != nil {
			continue // stopped with its group
		}
		if n := next.services[name]; s.checker != nil && (n == nil || n.checker != s.checker) {
			s.checker.Stop()
		}
	}
	for name, rt := range old.routes {
		if next.routes[name] != rt {
			rt.stop()
		}
	}
}

// loadRunnable loads and validates a platform file, and checks that this
// runtime can run all of it: a platform that passes cannot fail to build.
func loadRunnable(loader *tsk.Loader, path string) (*Platform, *tsk.Document, error) {
	p, doc, err := Load(loader, path)
	if err == nil {
		err = supported(path, p)
	}
	if err != nil {
		return nil, doc, err
	}
	return p, doc, nil
}

// build makes the next generation of a platform that loadRunnable
// accepted; prev (when not nil) lends it the components whose settings did
// not change. Nothing of prev is stopped here.
func (r *Runner) build(p *Platform, files []string, prev *generation, groups map[string]*processGroup) *generation {
	g := &generation{number: 1, platform: p, files: files, processes: map[string]*processGroup{},
		breakers: map[string]*breakerEntry{}, services: map[string]*serviceEntry{}, routes: map[string]*routeEntry{}}
	if prev != nil {
		g.number = prev.number + 1
	}
	engine := gin.New()
	engine.Use(gin.Recovery())
	routeService := map[string]string{} // filled below, read by measure once serving
	if tracing.Enabled() {
		engine.Use(traceRequests(routeService))
	}
	engine.Use(measure(r.metrics, &r.counts, routeService))
	engine.NoRoute(func(c *gin.Context) {
		gateway.WriteError(c.Writer, c.Request, http.StatusNotFound, "no route for "+c.Request.URL.Path)
	})

	// Built-in services, on the one store.
	users := services.NewUsers(r.store)
	usersClient := &services.UsersClient{BaseURL: "http://" + r.GatewayAddr(), HTTP: &http.Client{Timeout: 5 * time.Second},
		Breaker: r.breaker(g, prev, p, "users")}
	orders := services.NewOrders(r.store, usersClient)
	notes := services.NewNotifications(r.store, nil)
	builtins := map[string]interface{ Register(gin.IRouter) }{"users": users, "orders": orders, "notifications": notes}

	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		var h http.Handler
		switch s.Kind {
		case "builtin":
			sub := gin.New()
			builtins[name].Register(sub)
			h = sub
		case "http", "process":
			var entry *serviceEntry
			if s.Kind == "process" {
				pg := groups[name]
				if pg == nil {
					pg = prev.processes[name] // unchanged: carried over
				}
				g.processes[name] = pg
				g.services[name] = pg.entry
				entry = pg.entry
			} else {
				entry = r.service(g, prev, p, name)
			}
			br := r.breaker(g, prev, p, name)
			for _, route := range s.Routes {
				up := &gateway.Upstream{Name: name, Balancer: entry.balancer, Breaker: br, Timeout: s.Timeout, Retries: s.Retries,
					Transport: r.transportFor(s.Timeout), Log: r.log}
				if r.metrics != nil {
					up.OnTry = tryCounters(r.metrics, name)
				}
				routeService[route] = name
				if s.StripPrefix {
					up.StripPrefix = staticPrefix(route)
				}
				engine.Any(route, gin.WrapH(up.Handler()))
			}
			continue
		}
		for _, route := range s.Routes {
			engine.Any(route, gin.WrapH(h))
			routeService[route] = name
		}
	}
	root := gateway.RequestID(gateway.BodyLimit(1<<20, engine))
	g.handler = root

	// Event routes: a consumer each, carried over when unchanged.
	for _, name := range sortedKeys(p.EventRoutes) {
		er := p.EventRoutes[name]
		er.Retry = overlay(p.Events.Retry, er.Retry)
		if prev != nil {
			if old := prev.routes[name]; old != nil && reflect.DeepEqual(old.route, er) {
				g.routes[name] = old
				continue
			}
		}
		var handlers []events.Handler
		for _, to := range er.To {
			switch {
			case to == "notifications":
				handlers = append(handlers, notes.Handle)
			default:
				handlers = append(handlers, events.HTTPTarget(&http.Client{Timeout: 10 * time.Second}, to))
			}
		}
		ctx, cancel := context.WithCancel(r.ctx)
		route := events.Route{Name: name, Topic: er.Topic, Handler: events.All(handlers...), DeadLetter: er.DeadLetter,
			Retry: events.Retry{Attempts: er.Retry.Attempts, Backoff: er.Retry.Backoff, Max: er.Retry.MaxBackoff}}
		if er.Filter != "" {
			f, _ := eventfilter.Compile(er.Filter) // validated
			route.Filter = f.Match
		}
		route.Observe = func(outcome string) {
			r.metrics.Event(name, outcome)
			if outcome == "delivered" {
				r.counts.add("route:" + name)
			}
		}
		entry := &routeEntry{route: er, consumer: route, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(entry.done)
			if err := r.bus.Subscribe(ctx, route); err != nil && ctx.Err() == nil {
				r.log.Error("event route stopped", "route", name, "err", err)
			}
		}()
		g.routes[name] = entry
	}
	return g
}

// breaker returns the breaker of a call target, the previous generation's
// when its settings did not change.
func (r *Runner) breaker(g, prev *generation, p *Platform, target string) *breaker.Breaker {
	if e := g.breakers[target]; e != nil {
		return e.b
	}
	cfg := effectiveBreaker(p, target)
	settings := breaker.Settings{
		FailureThreshold: int(cfg.FailureThreshold), FailureRatio: cfg.FailureRatio, Window: cfg.Window,
		MinimumRequests: cfg.MinimumRequests, RecoveryTimeout: time.Duration(cfg.RecoveryTimeout),
		HalfOpenMaxRequests: cfg.HalfOpenMaxRequests, NoHalfOpen: !cfg.HalfOpenState,
	}
	if prev != nil {
		if e := prev.breakers[target]; e != nil && e.settings == settings {
			g.breakers[target] = e
			return e.b
		}
	}
	e := &breakerEntry{settings: settings, b: breaker.New(settings, nil, func(from, to breaker.State) {
		r.log.Warn("circuit breaker", "target", target, "from", from.String(), "to", to.String())
	})}
	g.breakers[target] = e
	return e.b
}

// overlay returns def with every field that over sets (non-zero): a
// per-target or per-service block names only what differs from the
// section's defaults.
func overlay[T any](def, over T) T {
	out := def
	ov, dv := reflect.ValueOf(&over).Elem(), reflect.ValueOf(&out).Elem()
	for i := range ov.NumField() {
		if f := ov.Field(i); !f.IsZero() {
			dv.Field(i).Set(f)
		}
	}
	return out
}

// service returns the balancer and health checker of an http service, the
// previous generation's when its instances and checks did not change.
func (r *Runner) service(g, prev *generation, p *Platform, name string) *serviceEntry {
	s := *p.Services[name]
	hc := effectiveHealth(p, name)
	checks := health.Settings{Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries,
		HealthyThreshold: hc.HealthyThreshold, Path: hc.Path}
	if prev != nil {
		if e := prev.services[name]; e != nil && reflect.DeepEqual(e.svc.Instances, s.Instances) &&
			e.svc.LoadBalancer == s.LoadBalancer && e.checks == checks {
			g.services[name] = &serviceEntry{svc: s, checks: checks, balancer: e.balancer, checker: e.checker}
			return g.services[name]
		}
	}
	var ins []*balancer.Instance
	for _, addr := range s.Instances.URLs {
		ins = append(ins, balancer.NewInstance(addr))
	}
	bal, _ := balancer.New(balancer.Policy(s.LoadBalancer), ins) // validated
	checker := health.New(checks, health.HTTPProbe(&http.Client{}, checks.Path))
	checker.Start(r.ctx, ins)
	e := &serviceEntry{svc: s, checks: checks, balancer: bal, checker: checker}
	g.services[name] = e
	return e
}

// supported reports what a valid platform asks for that this runtime
// does not do yet.
func supported(path string, p *Platform) error {
	var problems tsk.Diagnostics
	for _, name := range sortedKeys(p.EventRoutes) {
		e := p.EventRoutes[name]
		for _, to := range e.To {
			if s := p.Services[to]; s != nil && to != "notifications" {
				problems = append(problems, tsk.Diagnostic{Pos: tsk.Pos{Filename: path},
					Msg: fmt.Sprintf("event route %s: service %s does not consume events (give a URL)", name, to)})
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// staticPrefix is a route's path before its first parameter:
// /billing/*path gives /billing.
func staticPrefix(route string) string {
	if i := strings.IndexAny(route, ":*"); i >= 0 {
		route = route[:i]
	}
	return strings.TrimSuffix(route, "/")
}

// transportFor returns the transport for a try timeout. Called with
// reloadMu held (or before Start).
func (r *Runner) transportFor(timeout time.Duration) http.RoundTripper {
	t := r.transports[timeout]
	if t == nil {
		t = gateway.NewTransport(timeout)
		r.transports[timeout] = t
	}
	return t
}
