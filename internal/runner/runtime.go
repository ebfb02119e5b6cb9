// Package runner runs a platform: it builds a generation from the
// resolved platform (composer.Resolved), serves it, and on every reload
// carries out the composer.Diff from the running platform to the file's:
// what the Diff keeps is carried over with what it learned, what it adds
// or replaces is built, and what it removes or replaces stops after the
// swap. It supervises the process services, wires the event bus and its
// routes, watches the platform's files, and shows itself to the admin API
// through admin.Platform.
package runner

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuskcompose/composer/internal/admin"

	"github.com/tuskcompose/composer/composer"

	"github.com/gin-gonic/gin"
	"google.golang.org/grpc"

	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/h1server"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/internal/metrics"
	"github.com/tuskcompose/composer/internal/ratelimit"
	"github.com/tuskcompose/composer/internal/registry"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/supervisor"
	"github.com/tuskcompose/composer/internal/tracing"
	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
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
	// meshLn is [mesh] listen, the shared listener of the callers the
	// composer does not start.
	meshLn net.Listener
	// certs are the gateway's certificates with tls (nil: plain HTTP);
	// redirectLn is tls redirect_http's listener (nil: none).
	certs       *gateway.Certs
	redirectLn  net.Listener
	redirectSrv *http.Server
	meshSrv     server
	gatewaySrv  server
	adminSrv    *http.Server

	// store is the platform's: the event store, the routes' positions,
	// the outbox of events published through the admin API, the
	// registry; svcStores the built-in services' own.
	store     *store.Store
	svcStores serviceStores
	bus       events.Bus    // the embedded bus, or Kafka
	kafka     *kafkabus.Bus // when the bus is Kafka
	wake      chan struct{} // wakes the outbox relay
	// runID marks every process this run starts (supervisor.RunEnv);
	// runs lists, in the data directory, the runs that may have left
	// processes behind.
	runID string
	runs  supervisor.Runs
	// procOut receives the processes' output lines, coloured when
	// procColor (a terminal).
	procOut   io.Writer
	procColor bool
	// metrics is nil when [microservices_configuration] enable_metrics is
	// false.
	metrics *metrics.Metrics
	// counts feed the dashboard's rates.
	counts counters
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
	// mesh is the upstream listeners of the process services' calls, by
	// caller->target; guarded by meshMu.
	meshMu sync.Mutex
	mesh   map[string]*meshPair
	// meshConns are the gRPC connections of the built-in services' own
	// calls (orders -> users) to their pairs' listeners, by
	// caller->target; guarded by meshMu, closed by Stop.
	meshConns map[string]*grpc.ClientConn
	// registry is the instances that register at run time (registry.go);
	// on Kafka, regPending are its changes waiting to be written
	// (guarded by regMu), regWake wakes their writer.
	registry   *registry.Registry
	regMu      sync.Mutex
	regPending map[string]registryRecord
	regWake    chan struct{}
	// ownGRPC is the composer's own gRPC services (grpcown.go), served
	// on the gateway's port; stopping is closed when Stop begins (it ends
	// their Watch streams).
	ownGRPC *grpc.Server
	// ownGRPCMount is its handler, as the gateway mounts it on its routes.
	ownGRPCMount *serviceMount
	stopping     chan struct{}
	stopOnce     sync.Once
	publishers   map[string]*publisher // by service
	// transports carry the calls to http services, one per try timeout;
	// their idle connections outlive generations. Guarded by reloadMu.
	transports map[transportKey]http.RoundTripper
	// consumers holds the latest consumer made for each event route name,
	// running or stopped, so that the next consumer of that name waits
	// for it (see consume). Guarded by reloadMu.
	consumers map[string]*routeEntry

	ctx    context.Context // lives as long as the runner
	cancel context.CancelFunc
	bg     sync.WaitGroup

	// reloadMu is held by the one reload at a time (and by Start and
	// Stop). current is swapped under it and read without locks.
	reloadMu sync.Mutex
	current  atomic.Pointer[generation]

	// statusMu guards status and history (the last reloads); it is never
	// held while a reload waits, so /v1/status, the dashboard and the
	// watcher do not wait behind one.
	statusMu sync.Mutex
	status   Status
	history  []Reload
}

// The runner's state is shown in the admin API's types.
type (
	// Status is what /v1/status reports.
	Status = admin.Status
	// BusState says whether the event bus can be reached.
	BusState = admin.BusState
	// Reload is the result of one reload.
	Reload = admin.Reload
)

// generation is one running configuration: the components a Diff kept
// or built, and the gateway's handler over them. Its fields are set by
// build and not changed after, except what carried-over components
// change in themselves.
type generation struct {
	// refs counts the requests serving on this generation, plus one while
	// it is the current one (see acquire); drained is closed when it
	// reaches zero.
	refs        atomic.Int64
	drained     chan struct{}
	drainedOnce sync.Once
	// ctx ends when the generation has drained after its retirement (or
	// drain_timeout passed): upgraded connections (WebSockets) still open
	// on it are closed then.
	ctx    context.Context
	cancel context.CancelFunc

	number    int
	model     *composer.Resolved // composer.Carry'd: the settings it runs with
	platform  *composer.Platform // model.Platform, for the views
	files     []string
	actions   composer.Actions // what the reload that made it did
	handler   http.Handler
	breakers  map[string]*breaker.Breaker   // by call target
	instances map[string]*balancer.Instance // an http service's, by "service url"
	services  map[string]*serviceEntry      // http and process services
	processes map[string]*processGroup
	routes    map[string]*routeEntry
	// pairs are the request paths of the mesh's calls, by caller->target;
	// builtins the built-in services' handlers, for calls in process.
	pairs    map[string]http.Handler
	builtins map[string]http.Handler
	// deliveries are the request paths of events to services by name
	// (an event route's `to: ["billing/hooks"]`), with their breakers
	// events->NAME.
	deliveries map[string]*gateway.Upstream
	// auth are the [auth] policies by name, limiters the services' rate
	// limits, proxies [composer] trusted_proxies (edge.go).
	auth     map[string]*auth.Policy
	limiters map[string]*ratelimit.Limiter
	proxies  ratelimit.Proxies
	// proxiesKey is proxies as text: equal from one generation to the
	// next when they are the same (the key of the handlers that use
	// them).
	proxiesKey string
	// names are the services' names, sorted (model.ServiceNames).
	names []string
	// mounts are the http and process services' handlers, routers the
	// gateway's routers (routers.go): the next generation keeps those
	// its edit did not change.
	mounts  map[string]*serviceMount
	routers map[routerKey]*bucketRouter
}

// serviceEntry is what stands in front of an http or process service's
// instances.
type serviceEntry struct {
	balancer *balancer.Balancer
	checker  *health.Checker // nil: not health-checked
}

type routeEntry struct {
	consumer      events.Route // what the bus runs (replays too)
	cancel        context.CancelFunc
	endDeliveries context.CancelFunc // ends the deliveries under way
	done          chan struct{}
}

// acquire returns the current generation with a reference that the
// caller gives back with release. A generation retired between the load
// and the increment has no references left and is skipped, so that a
// retired generation, once drained, never serves again.
func (r *Runner) acquire() *generation {
	for {
		g := r.current.Load()
		for n := g.refs.Load(); n > 0; n = g.refs.Load() {
			if g.refs.CompareAndSwap(n, n+1) {
				return g
			}
		}
		if r.current.Load() == g {
			// The current generation has no references left: the runner
			// is stopping. Serve on it rather than spin.
			g.refs.Add(1)
			return g
		}
	}
}

// release gives back a reference taken by acquire (or the runner's own,
// when the generation is retired).
func (g *generation) release() {
	if g.refs.Add(-1) == 0 {
		g.drainedOnce.Do(func() { close(g.drained) })
	}
}

// serve serves a request on the current generation. An upgraded
// connection (a WebSocket) keeps the generation until it closes, and is
// closed when the generation's context ends (drain_timeout after the
// reload or stop that retired it); other requests pay nothing for that.
func (r *Runner) serve(w http.ResponseWriter, req *http.Request) {
	if err := gateway.NormalizeURL(req.URL); err != nil {
		gateway.WriteError(w, req, http.StatusBadRequest, err.Error())
		return
	}
	g := r.acquire()
	defer g.release()
	if up := req.Header["Upgrade"]; len(up) > 0 && up[0] != "" {
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		stop := context.AfterFunc(g.ctx, cancel)
		defer stop()
		req = req.WithContext(ctx)
	}
	g.handler.ServeHTTP(w, req)
}

// wait waits until the generation's requests have ended, at most limit.
func (g *generation) wait(limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-g.drained:
	case <-t.C:
	}
}

// wrapBus, when set (by tests only, before New), wraps the bus New made.
var wrapBus func(events.Bus) events.Bus

// New loads the platform file and opens its store; Start serves it.
func New(path string, loader *tsk.Loader, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.Default()
	}
	if loader.Cache == nil {
		// Reloads parse only the statements of the file that changed.
		l := *loader
		l.Cache = tsk.NewCache()
		loader = &l
	}
	model, doc, err := composer.LoadResolved(loader, path)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(model.Composer.DataDir, "composer.db"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{path: path, loader: loader, log: log, store: st, runID: supervisor.NewRunID(),
		runs: supervisor.Runs(filepath.Join(model.Composer.DataDir, "runs")),
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, transports: map[transportKey]http.RoundTripper{}, consumers: map[string]*routeEntry{},
		mesh: map[string]*meshPair{}, meshConns: map[string]*grpc.ClientConn{}, publishers: map[string]*publisher{},
		stopping: make(chan struct{})}
	r.ownGRPC = r.newOwnGRPC()
	r.ownGRPCMount = &serviceMount{routes: []mounted{{service: "composer", h: gateway.BodyLimit(gateway.DefaultMaxBodySize, r.ownGRPC)}}}
	// A run killed with SIGKILL may have left processes its processes
	// started (the parent-death signal reaches only the direct child).
	if n := r.runs.Sweep(); n > 0 {
		log.Warn("stopped processes an earlier run left behind", "count", n)
	}
	if err := r.runs.Add(r.runID); err != nil {
		log.Warn("cannot record this run's id: processes it leaves behind after a crash are not swept", "err", err)
	}
	fail := func(err error) (*Runner, error) {
		for _, ln := range []net.Listener{r.gatewayLn, r.adminLn, r.meshLn, r.redirectLn} {
			if ln != nil {
				ln.Close()
			}
		}
		cancel()
		r.bg.Wait()
		r.closeServiceStores()
		st.Close()
		r.runs.Remove(r.runID)
		return nil, err
	}
	if model.Bus.Kind == "kafka" {
		cfg, err := kafkaConfig(model.Bus, model.Platform.Events.SASL.Password, log)
		if err != nil {
			return fail(err)
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
	if wrapBus != nil {
		r.bus = wrapBus(r.bus)
	}
	st.OnEmit(r.wakeRelay)
	st.OnAppend(r.wakeProjectors)
	if r.gatewayLn, err = net.Listen("tcp", model.Composer.Listen); err != nil {
		return fail(fmt.Errorf("listen on %s: %w", model.Composer.Listen, err))
	}
	if r.adminLn, err = net.Listen("tcp", model.Composer.Admin); err != nil {
		return fail(fmt.Errorf("admin: listen on %s: %w", model.Composer.Admin, err))
	}
	if r.meshLn, err = net.Listen("tcp", model.Composer.MeshListen); err != nil {
		return fail(fmt.Errorf("[mesh] listen on %s: %w", model.Composer.MeshListen, err))
	}
	if t := model.Composer.TLS; t.Enabled() {
		if r.certs, err = gateway.NewCerts(t.Default, t.Certificates, log); err != nil {
			return fail(fmt.Errorf("tls: %w", err))
		}
		if t.RedirectHTTP != "" {
			if r.redirectLn, err = net.Listen("tcp", t.RedirectHTTP); err != nil {
				return fail(fmt.Errorf("tls redirect_http: listen on %s: %w", t.RedirectHTTP, err))
			}
		}
	}
	for _, w := range composer.Warnings(model) {
		log.Warn(w.Error())
	}
	r.status.Started = time.Now().UTC()
	start := time.Now()
	r.procOut, r.procColor = processOutput()
	if model.Composer.Tracing {
		if r.stopTracing, err = tracing.Setup(ctx, model.Composer.OTLPEndpoint, model.Composer.Name); err != nil {
			return fail(fmt.Errorf("tracing: %w", err))
		}
	}
	if model.Composer.Metrics {
		r.metrics = metrics.New()
		r.metrics.Registry.MustRegister(stateCollector{r})
	}
	if err := r.openRegistry(); err != nil {
		return fail(fmt.Errorf("the registry: %w", err))
	}
	model = model.WithRegistered(r.registeredURLs(model))
	acts := composer.Diff(nil, model)
	if err := r.openServiceStores(model); err != nil {
		return fail(err)
	}
	groups, err := r.prepareProcesses(model, nil, acts)
	if err != nil {
		return fail(err)
	}
	g := r.build(model, doc.Files, nil, acts, groups)
	r.current.Store(g)
	r.metrics.Generation(g.number)
	r.status.Generation, r.status.Files = g.number, doc.Files
	r.status.LastReload = Reload{Time: time.Now().UTC(), OK: true, Changed: true, Actions: acts,
		Duration: time.Since(start).String()}
	r.history = append(r.history, r.status.LastReload)
	return r, nil
}

// GatewayAddr and AdminAddr are the addresses the runner listens on.
func (r *Runner) GatewayAddr() string { return r.gatewayLn.Addr().String() }

// RedirectAddr returns the address of tls redirect_http's listener ("":
// none).
func (r *Runner) RedirectAddr() string {
	if r.redirectLn == nil {
		return ""
	}
	return r.redirectLn.Addr().String()
}

// AdminAddr is the admin API's address.
func (r *Runner) AdminAddr() string { return r.adminLn.Addr().String() }

// plainAndH2C are the protocols of the gateway's and the mesh's
// listeners: HTTP/1.1 and HTTP/2 without TLS (prior knowledge, as gRPC
// clients speak it) on the one port.
func plainAndH2C() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// server is what serves a listener: h1server for the gateway (HTTP/1.1
// and h2c, or HTTPS: HTTP/1.1 and HTTP/2 by ALPN) and the mesh, net/http
// for the admin API.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// gen is the current generation, for views that read it without holding
// a reference (nothing of it is stopped while they read: what a reload
// removes stops after the swap, and views tolerate a stopped component).
func (r *Runner) gen() *generation { return r.current.Load() }

// Start serves the gateway and the admin API and starts the outbox relay.
func (r *Runner) Start() {
	gw := &h1server.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second, Log: r.log}
	if r.certs != nil {
		// HTTPS: HTTP/2 by ALPN and HTTP/1.1, TLS 1.2 at least; the
		// certificate of each handshake by SNI, read again after a renewal.
		gw.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.certs.GetCertificate}
	}
	r.gatewaySrv = gw
	if r.redirectLn != nil {
		_, port, _ := net.SplitHostPort(r.GatewayAddr())
		r.redirectSrv = &http.Server{Handler: redirectToHTTPS(port), ReadHeaderTimeout: 10 * time.Second}
	}
	r.adminSrv = &http.Server{Handler: admin.Handler(r, r.gen().model.Composer.AdminToken), ReadHeaderTimeout: 10 * time.Second}
	r.meshSrv = &h1server.Server{Handler: gateway.RequestID(http.HandlerFunc(r.serveShared)), ReadHeaderTimeout: 10 * time.Second, Log: r.log}
	for _, s := range []struct {
		srv server
		ln  net.Listener
	}{{r.gatewaySrv, r.gatewayLn}, {r.adminSrv, r.adminLn}, {r.meshSrv, r.meshLn}, {r.redirectSrv, r.redirectLn}} {
		if s.ln == nil {
			continue
		}
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
		events.Relay(r.ctx, r.outboxes, relayed, r.wake, 250*time.Millisecond)
	}()
	r.startProcesses(r.gen())
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.watchRegistry()
	}()
	if r.kafka != nil {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.replicateRegistry()
		}()
		r.claimNode()
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.watchBus()
		}()
		r.reloadMu.Lock()
		r.project(r.gen().model)
		r.reloadMu.Unlock()
	}
	r.log.Info("platform running", "gateway", r.GatewayAddr(), "admin", r.AdminAddr(), "mesh", r.meshLn.Addr().String(), "generation", r.gen().number)
}

// Stop drains in-flight requests (up to ctx's deadline) and stops
// everything.
func (r *Runner) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopping) })
	var err error
	if r.gatewaySrv != nil {
		err = r.gatewaySrv.Shutdown(ctx)
		r.meshSrv.Shutdown(ctx)
		r.adminSrv.Shutdown(ctx)
		if r.redirectSrv != nil {
			r.redirectSrv.Shutdown(ctx)
		}
	} else {
		r.gatewayLn.Close()
		r.adminLn.Close()
		r.meshLn.Close()
		if r.redirectLn != nil {
			r.redirectLn.Close()
		}
	}
	r.reloadMu.Lock()
	g := r.gen()
	// Upgraded connections are not the server's to wait for: they hold the
	// generation until they close, up to drain_timeout (or ctx's end).
	g.release()
	g.wait(within(ctx, g.model.Composer.DrainTimeout))
	g.cancel()
	r.stopProcesses(ctx, g)
	r.ownGRPC.Stop()
	r.registry.Stop()
	r.meshMu.Lock()
	for key, conn := range r.meshConns {
		conn.Close()
		delete(r.meshConns, key)
	}
	r.meshMu.Unlock()
	r.closeMesh(nil)
	r.closePublishers(nil)
	supervisor.Sweep(r.runID) // what left the processes' groups
	r.runs.Remove(r.runID)
	for _, s := range g.services {
		if s.checker != nil {
			s.checker.Stop()
		}
	}
	grace := within(ctx, g.model.Composer.DrainTimeout) // for the deliveries under way
	for _, rt := range g.routes {
		rt.stop(grace)
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
	if cerr := r.closeServiceStores(); err == nil {
		err = cerr
	}
	if cerr := r.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// within returns d, or the time left until ctx's deadline when that is
// sooner.
func within(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return min(d, time.Until(dl))
	}
	return d
}

// stop stops the consumer and returns when it has: it takes no more
// events, the deliveries under way get up to grace to finish (and are
// then acknowledged), and what it delivered is committed.
func (rt *routeEntry) stop(grace time.Duration) {
	rt.cancel()
	t := time.AfterFunc(grace, rt.endDeliveries)
	<-rt.done
	t.Stop()
	rt.endDeliveries()
}

// Reload reads the platform file again and carries out the Diff from the
// running platform to it: what is equal is kept, the rest is built,
// swapped in and the old stopped. A file with errors, or a process that
// does not become healthy, leaves the running generation alone. The
// result is also kept for /v1/status.
func (r *Runner) Reload() Reload {
	res, _ := r.reload(false)
	return res
}

// reload is Reload; a tentative reload of a file that does not load
// (an editor half-way through its save) is not recorded and reports
// loaded false, so that the watcher can wait for the rest of the save.
func (r *Runner) reload(tentative bool) (res Reload, loaded bool) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	start := time.Now()
	res = Reload{Time: start.UTC(), Actions: composer.Actions{}}
	select {
	case <-r.stopping: // Stop has the platform: no generation after it
		res.Diagnostics = []string{"the composer is stopping"}
		return res, true
	default:
	}
	next, doc, err := composer.LoadResolved(r.loader, r.path)
	if err != nil && tentative {
		return res, false
	}
	cur := r.gen()
	if err != nil {
		res.Diagnostics = diagnostics(err)
	} else {
		acts := composer.Diff(cur.model, next)
		res.Actions = acts
		res.OK = true
		var restart []string
		swap := false
		for _, a := range res.Actions {
			if a.Action == composer.NeedsRestart {
				restart = append(restart, a.String())
			} else {
				swap = true
			}
		}
		if len(restart) > 0 {
			r.log.Warn("reload: these changes take effect at the next start; the running platform keeps its own", "changes", restart)
		}
		if swap {
			if err := r.swap(composer.Carry(cur.model, next), doc.Files, cur, acts); err != nil {
				res.OK, res.Actions = false, composer.Actions{}
				res.Diagnostics = []string{fmt.Sprintf("%s: %v", r.path, err)}
			} else {
				res.Changed = true
			}
		}
	}
	res.Duration = time.Since(start).String()
	r.statusMu.Lock()
	if doc != nil {
		r.status.Files = doc.Files
	}
	r.status.LastReload = res
	r.history = append(r.history, res)
	if len(r.history) > 20 {
		r.history = r.history[len(r.history)-20:]
	}
	r.status.Generation = r.gen().number
	r.statusMu.Unlock()
	result := "failed"
	switch {
	case res.Changed:
		result = "applied"
	case res.OK:
		result = "unchanged"
	}
	r.metrics.Reload(result, time.Since(start), r.gen().number)
	if res.OK {
		r.log.Info("reload", "generation", r.gen().number, "changed", res.Changed, "actions", len(res.Actions), "took", res.Duration)
	} else {
		r.log.Error("reload failed; the running platform is unchanged", "diagnostics", res.Diagnostics)
	}
	return res, true
}

// swap builds the generation of model by the plan acts, makes it the
// current one and retires cur. Called with reloadMu held.
func (r *Runner) swap(model *composer.Resolved, files []string, cur *generation, acts composer.Actions) error {
	if err := r.openServiceStores(model); err != nil {
		return err
	}
	groups, err := r.prepareProcesses(model, cur, acts)
	if err != nil {
		return err
	}
	g := r.build(model, files, cur, acts, groups)
	r.current.Store(g)
	cur.release() // the runner's own reference: it drains from now on
	r.retire(cur, g)
	r.startProcesses(g)
	if r.kafka != nil && acts.Of(composer.KindConsumer, "store") == composer.Replace {
		r.project(model)
	}
	return nil
}

// Status returns what /v1/status reports.
func (r *Runner) Status() Status {
	r.statusMu.Lock()
	st := r.status
	r.statusMu.Unlock()
	st.Bus = *r.busOK.Load()
	st.Mesh = r.meshLn.Addr().String()
	return st
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

// retire stops what old had and next's actions removed or replaced:
// checkers and event route consumers at once, processes once the
// requests of old have ended (they may still pick the old instances).
// Called with reloadMu held, after the swap.
func (r *Runner) retire(old, next *generation) {
	acts := next.actions
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		old.wait(old.model.Composer.DrainTimeout)
		old.cancel() // what is still open on it (upgraded connections) closes
		cur := r.gen()
		r.closeMesh(cur.pairs)
		r.closePublishers(func(name string) bool { return cur.processes[name] != nil })
	}()
	for name, pg := range old.processes {
		if next.processes[name] != pg {
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				old.wait(old.model.Composer.DrainTimeout)
				pg.stop(r.ctx)
			}()
		}
	}
	for name, s := range old.services {
		if s.checker != nil && (next.services[name] == nil || next.services[name].checker != s.checker) {
			s.checker.Stop()
		}
	}
	removed := map[string]bool{}
	for _, a := range acts {
		if a.Kind == composer.KindInstance && a.Action == composer.Remove {
			removed[a.Name] = true
		}
	}
	for key, in := range old.instances {
		if removed[key] {
			name, _, _ := strings.Cut(key, " ")
			if e := next.services[name]; e != nil && e.checker != nil {
				e.checker.Remove(in)
			}
		}
	}
	for name, rt := range old.routes {
		if next.routes[name] != rt {
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				rt.stop(old.model.Composer.DrainTimeout)
			}()
		}
	}
}

// build makes the generation that carries out acts, the Diff from prev's
// model (nil at the first start) to model: components acts keeps are
// prev's, the others are made here (processes by prepareProcesses, in
// groups). Nothing of prev is stopped here, and nothing can fail: model
// passed validation.
func (r *Runner) build(model *composer.Resolved, files []string, prev *generation, acts composer.Actions, groups map[string]*processGroup) *generation {
	g := &generation{number: 1, model: model, platform: model.Platform, files: files, actions: acts,
		drained:  make(chan struct{}),
		breakers: map[string]*breaker.Breaker{}, instances: map[string]*balancer.Instance{},
		services: map[string]*serviceEntry{}, processes: map[string]*processGroup{}, routes: map[string]*routeEntry{},
		deliveries: map[string]*gateway.Upstream{}, pairs: map[string]http.Handler{}, builtins: map[string]http.Handler{}}
	g.refs.Store(1) // the runner's, until the next swap
	g.ctx, g.cancel = context.WithCancel(r.ctx)
	if prev != nil {
		g.number = prev.number + 1
	}
	// Diff lists the components a reload changes; what it does not list
	// is kept. The generation starts as a copy of the last one's maps, and
	// what the actions name is made again, so that a reload costs what
	// it changes (at the first start every component is an Add).
	changed := acts.Index()
	kept := func(kind, name string) bool { return prev != nil && changed.Of(kind, name) == composer.Keep }
	if prev != nil {
		g.breakers, g.instances = maps.Clone(prev.breakers), maps.Clone(prev.instances)
		g.services, g.processes = maps.Clone(prev.services), maps.Clone(prev.processes)
		g.pairs = make(map[string]http.Handler, len(prev.pairs))
	}
	g.names = model.ServiceNames()
	for _, a := range acts {
		switch a.Kind {
		case composer.KindBreaker:
			delete(g.breakers, a.Name)
			if target := a.Name; a.Action != composer.Remove {
				g.breakers[target] = breaker.New(model.Breakers[target], nil, func(from, to breaker.State) {
					r.log.Warn("circuit breaker", "target", target, "from", from.String(), "to", to.String())
				})
			}
		case composer.KindInstance:
			delete(g.instances, a.Name)
			if _, u, _ := strings.Cut(a.Name, " "); a.Action != composer.Remove {
				g.instances[a.Name] = balancer.NewInstance(u)
			}
		}
	}

	touched := touchedServices(acts)
	for _, name := range touched {
		delete(g.services, name)
		delete(g.processes, name)
		s := model.Services[name]
		if s == nil {
			continue // removed
		}
		switch s.Kind {
		case "http":
			var ins []*balancer.Instance
			for _, u := range s.Instances {
				key := name + " " + u
				in := g.instances[key]
				if in == nil { // (every instance has a component; made at its Add)
					in = balancer.NewInstance(u)
					g.instances[key] = in
				}
				ins = append(ins, in)
			}
			e := &serviceEntry{}
			if kept(composer.KindBalancer, name) {
				e.balancer = prev.services[name].balancer
			} else {
				e.balancer, _ = balancer.New(balancer.Policy(s.Balancer), ins) // validated
				e.balancer.WithOutlier(s.Outlier).WithWeights(s.Weights)
			}
			if kept(composer.KindHealthCheck, name) {
				e.checker = prev.services[name].checker
				for _, in := range ins {
					e.checker.Add(in) // new instances; the others are probed already
				}
			} else {
				e.checker = health.New(*s.Health, r.probe(s))
				e.checker.Start(r.ctx, ins)
			}
			g.services[name] = e
		case "process":
			pg := groups[name]
			if pg == nil {
				pg = prev.processes[name] // kept
			}
			g.processes[name] = pg
			e := &serviceEntry{}
			if kept(composer.KindBalancer, name) {
				e.balancer = prev.services[name].balancer
			} else {
				e.balancer, _ = balancer.New(balancer.Policy(s.Balancer), pg.instances) // validated
				e.balancer.WithOutlier(s.Outlier)
			}
			switch {
			case s.Health == nil:
			case kept(composer.KindHealthCheck, name):
				e.checker = prev.services[name].checker
			case groups[name] != nil:
				e.checker = pg.checker() // made with the group
			default:
				// The process is kept, its checks changed: probe its
				// instances with the new settings.
				e.checker = health.New(*s.Health, r.probe(s))
				e.checker.Start(r.ctx, nil)
				pg.useChecker(e.checker)
			}
			if s.Health == nil && pg.checker() != nil {
				pg.useChecker(nil) // no longer checked: routable
			}
			g.services[name] = e
		}
	}

	// Built-in services, each on its own store; every generation mounts
	// its own. orders asks users over gRPC through the mesh, as a process
	// would: the pair orders->users, its breaker, users' timeout and
	// retries (and users' handler in process, whether or not users has
	// public routes).
	env := services.Env{Users: &services.UsersGRPCClient{Client: shopv1.NewUsersClient(r.meshConn("orders", "users"))},
		Directory: &services.UsersGRPCClient{Client: shopv1.NewUsersClient(r.meshConn("notifications", "users"))}}
	if s := model.Services["notifications"]; s != nil && s.SMTP != nil {
		m := s.SMTP
		env.Sender = services.NewMailSender(services.SMTP{Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password,
			From: m.From, StartTLS: m.StartTLS, Timeout: m.Timeout})
	}
	builtins := map[string]services.Service{}
	for _, d := range services.Registry {
		if s := model.Services[d.Name]; s != nil && s.Kind == "builtin" {
			env.Store = r.serviceStore(d.Name)
			builtins[d.Name] = d.New(env)
		}
	}
	for name, s := range builtins {
		g.builtins[name] = r.builtinHandler(s, name)
	}
	// The mesh: a path per declared call.
	for caller, s := range model.Services {
		for _, target := range s.Calls {
			g.pairs[composer.PairBreaker(caller, target)] = r.pairPath(g, caller, target)
		}
	}
	r.buildEdge(g, prev, model, kept)
	g.handler = r.gateway(g, prev, model, builtins)

	// Deliveries of events to services by name: the last generation's,
	// but for the services touched and those whose events->NAME breaker
	// changed (all of them when breakers were switched on or off).
	deliver := func(name string) {
		delete(g.deliveries, name)
		s, e := model.Services[name], g.services[name]
		if s == nil || e == nil {
			return
		}
		if b, ok := g.breakers[composer.EventBreaker(name)]; ok {
			g.deliveries[name] = &gateway.Upstream{Name: name, Balancer: e.balancer, Breaker: b, Timeout: s.Timeout,
				Transport: r.transportFor(s.Protocol, s.Timeout), Log: r.log}
		} else if !model.Platform.Configuration.EnableCircuitBreaker {
			g.deliveries[name] = &gateway.Upstream{Name: name, Balancer: e.balancer, Timeout: s.Timeout,
				Transport: r.transportFor(s.Protocol, s.Timeout), Log: r.log}
		}
	}
	if prev == nil || prev.model.Platform.Configuration.EnableCircuitBreaker != model.Platform.Configuration.EnableCircuitBreaker {
		for name := range model.Services {
			deliver(name)
		}
	} else {
		g.deliveries = maps.Clone(prev.deliveries)
		for _, name := range touched {
			deliver(name)
		}
		for _, a := range acts {
			if svc, ok := strings.CutPrefix(a.Name, composer.EventBreaker("")); ok && a.Kind == composer.KindBreaker {
				deliver(svc)
			}
		}
	}

	// Event routes: a consumer each.
	for _, name := range sortedKeys(model.EventRoutes) {
		if kept(composer.KindEventRoute, name) {
			g.routes[name] = prev.routes[name]
			continue
		}
		g.routes[name] = r.consume(name, model.EventRoutes[name], builtins, r.consumers[name])
		r.consumers[name] = g.routes[name]
	}
	return g
}

// touchedServices are the services (sorted) whose entry in front of
// their instances a reload makes again: those whose service, instances,
// balancer, health check or process the actions name.
func touchedServices(acts composer.Actions) []string {
	var out []string
	for _, a := range acts {
		switch a.Kind {
		case composer.KindService, composer.KindBalancer, composer.KindHealthCheck, composer.KindProcess:
			out = append(out, a.Name)
		case composer.KindInstance:
			name, _, _ := strings.Cut(a.Name, " ")
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// builtinHandler is a built-in service's own router, all of its routes,
// for calls in process (with a server span, as the gateway's requests).
func (r *Runner) builtinHandler(s services.Service, name string) http.Handler {
	engine := gin.New()
	engine.Use(recoverPanics(r.log))
	if tracing.Enabled() {
		routes := map[string]string{}
		if d := services.Lookup(name); d != nil {
			for _, route := range d.Routes {
				routes[route] = name
			}
		}
		engine.Use(traceRequests(routes))
	}
	s.Register(engine)
	return engine
}

// consume starts the consumer of an event route.
//
// before is the last consumer made for the route's name (in the
// generation being replaced, or in an earlier one when the route was
// removed and is back), or nil: the new consumer subscribes only once
// before has stopped (retire stops it right after the swap, giving its
// deliveries under way up to drain_timeout). The old consumer commits
// what it delivered and leaves the group before the new one joins; were
// they to overlap, the join would end the old consumer's group
// generation, its last deliveries could not be committed and the new
// consumer would deliver them again.
func (r *Runner) consume(name string, er *composer.ResolvedRoute, builtins map[string]services.Service, before *routeEntry) *routeEntry {
	var handlers []events.Handler
	for _, to := range er.To {
		if c, ok := builtins[to].(services.Consumer); ok {
			handlers = append(handlers, c.Handle)
			continue
		}
		if svc, path := composer.EventTarget(to); svc != "" {
			// A service by name: through its balancer and events->NAME
			// breaker, those of the generation running at each delivery.
			client := &http.Client{Timeout: 10 * time.Second, Transport: deliveryTransport{r, svc}}
			handlers = append(handlers, events.HTTPTarget(client, "http://"+svc+path))
			continue
		}
		handlers = append(handlers, events.HTTPTarget(&http.Client{Timeout: 10 * time.Second}, to)) // a URL: validated
	}
	ctx, cancel := context.WithCancel(r.ctx)
	deliveries, endDeliveries := context.WithCancel(r.ctx)
	route := events.Route{Name: name, Topic: er.Topic, Handler: events.Finishing(events.All(handlers...), deliveries),
		DeadLetter: er.DeadLetter, Retry: er.Retry, Filter: er.Match}
	route.Observe = func(outcome string) {
		r.metrics.Event(name, outcome)
		if outcome == "delivered" {
			r.counts.add("route:" + name)
		}
	}
	entry := &routeEntry{consumer: route, cancel: cancel, endDeliveries: endDeliveries, done: make(chan struct{})}
	go func() {
		defer close(entry.done)
		if before != nil {
			<-before.done // at most its grace: it was stopped before this is
			if ctx.Err() != nil {
				return
			}
		}
		if err := r.bus.Subscribe(ctx, route); err != nil && ctx.Err() == nil {
			r.log.Error("event route stopped", "route", name, "err", err)
		}
	}()
	return entry
}

// deliveryTransport posts an event to a service by name, through the
// current generation's delivery path to it (a consumer outlives the
// generation that started it).
type deliveryTransport struct {
	r       *Runner
	service string
}

func (t deliveryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	up := t.r.gen().deliveries[t.service]
	if up == nil {
		return nil, fmt.Errorf("service %s is not in the running platform", t.service)
	}
	return up.RoundTripper().RoundTrip(req)
}

// staticPrefix is a route's path before its first parameter:
// /billing/*path gives /billing.
func staticPrefix(route string) string {
	if i := strings.IndexAny(route, ":*"); i >= 0 {
		route = route[:i]
	}
	return strings.TrimSuffix(route, "/")
}

// transportFor returns the transport for a protocol (http, h2c, grpc)
// and a try timeout. Called with reloadMu held (or before Start).
func (r *Runner) transportFor(protocol string, timeout time.Duration) http.RoundTripper {
	if protocol == "grpc" {
		timeout = 0 // a gRPC try's timeout runs from when the client has sent (gateway.Upstream.GRPC)
	}
	key := transportKey{protocol == "h2c" || protocol == "grpc", timeout}
	t := r.transports[key]
	if t == nil {
		if key.h2c {
			t = gateway.NewH2CTransport(timeout)
		} else {
			t = gateway.NewTransport(timeout)
		}
		r.transports[key] = t
	}
	return t
}

type transportKey struct {
	h2c     bool
	timeout time.Duration
}

// probe is the active health check of a service's instances: gRPC's
// health protocol when its checks' protocol is grpc (a grpc service's
// default), an HTTP GET of the health path otherwise (over h2c for h2c
// and grpc services).
func (r *Runner) probe(s *composer.ResolvedService) health.Probe {
	switch {
	case s.Health.Protocol == "grpc":
		return health.GRPCProbe(&http.Client{Transport: gateway.NewH2CTransport(0)}, s.Health.GRPCService)
	case s.Protocol == "h2c" || s.Protocol == "grpc":
		return health.HTTPProbe(&http.Client{Transport: gateway.NewH2CTransport(0)}, s.Health.Path)
	}
	return health.HTTPProbe(probeClient, s.Health.Path)
}

// probeConnsPerHost bounds the HTTP health probes' connections to one
// address at once.
const probeConnsPerHost = 64

// probeClient carries the HTTP/1 health probes of every service: at
// most probeConnsPerHost connections to one address, kept open between
// probes, so that many instances on one address (a platform's first
// probes of all its instances, above all) share connections instead of
// opening one each, and a probe every interval does not dial again.
var probeClient = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost, t.MaxIdleConnsPerHost = probeConnsPerHost, probeConnsPerHost
	return t
}()}

// grpcPolicy is the compiled gRPC settings of a service (nil unless its
// protocol is grpc).
func grpcPolicy(s *composer.ResolvedService) *gateway.GRPCPolicy {
	if s.GRPC == nil {
		return nil
	}
	return s.GRPC.Policy()
}

// recoverPanics is gateway.Recover as gin middleware.
func recoverPanics(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if rec := recover(); rec != nil {
				gateway.Recovered(log, c.Writer, c.Request, rec)
			}
		}()
		c.Next()
	}
}

// redirectToHTTPS answers every request with a permanent redirect (308,
// which keeps the method and body) to the same host, path and query on
// the gateway's HTTPS port.
func redirectToHTTPS(port string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 address
		}
		if port != "443" {
			host += ":" + port
		}
		http.Redirect(w, req, "https://"+host+req.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
