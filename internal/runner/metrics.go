package runner

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuskcompose/composer/internal/admin"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/metrics"
	"github.com/tuskcompose/composer/internal/registry"
	"github.com/tuskcompose/composer/internal/supervisor"
)

// measure is the gateway's middleware that counts every answered request
// by the service and route that served it (routes: which route pattern
// belongs to which service; "none" for a request no route matched).
func measure(m *metrics.Metrics, counts *counters, routes map[string]string) gin.HandlerFunc {
	byRoute := make(map[string]*measured, len(routes))
	for route, service := range routes {
		byRoute[route] = newMeasured(m, counts, service, route)
	}
	unmatched := newMeasured(m, counts, "none", "unmatched")
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		// The answer goes out before the counting: net/http (HTTP/2's
		// server) would only send what is buffered once the handlers
		// return; h1server (HTTP/1) sends an answer of known length at
		// its last byte. Only answers of known length: flushing another
		// would make it chunked.
		if c.Request.ProtoMajor == 2 && c.Writer.Written() && hasLength(c.Writer.Header()) {
			c.Writer.Flush()
		}
		route := c.FullPath()
		mr := byRoute[route]
		switch {
		case mr == nil && route == "":
			mr = unmatched
		case mr == nil: // (not a route of the platform's: none is mounted so)
			m.Request("none", route, c.Request.Method, c.Writer.Status(), time.Since(start))
			counts.add("svc:none")
			return
		}
		mr.metrics.Request(c.Request.Method, c.Writer.Status(), time.Since(start))
		if mr.service != "none" && gateway.IsGRPC(c.Request) {
			if svc, method, ok := gateway.GRPCMethod(c.Request.URL.Path); ok {
				m.GRPC(mr.service, svc, method, gateway.AnsweredGRPCStatus(c.Writer.Header()))
			}
		}
		mr.add()
	}
}

// hasLength reports whether an answer's header declares its length.
func hasLength(h http.Header) bool {
	cl := h["Content-Length"]
	return len(cl) > 0 && cl[0] != ""
}

// measured is what measure counts a route's requests on, each counter
// resolved at its first use.
type measured struct {
	service string
	metrics *metrics.Route
	counts  *counters
	count   atomic.Pointer[atomic.Int64] // the dashboard's "svc:NAME"
}

func newMeasured(m *metrics.Metrics, counts *counters, service, route string) *measured {
	return &measured{service: service, metrics: m.Route(service, route), counts: counts}
}

func (mr *measured) add() {
	n := mr.count.Load()
	if n == nil {
		n = mr.counts.counter("svc:" + mr.service)
		mr.count.Store(n)
	}
	n.Add(1)
}

// counters are the request and event counts the dashboard turns into
// rates: by service ("svc:NAME") and by event route ("route:NAME").
type counters struct{ m sync.Map }

func (c *counters) add(key string) { c.counter(key).Add(1) }

// counter is key's count, made at its first use.
func (c *counters) counter(key string) *atomic.Int64 {
	v, ok := c.m.Load(key)
	if !ok {
		v, _ = c.m.LoadOrStore(key, new(atomic.Int64))
	}
	return v.(*atomic.Int64)
}

func (c *counters) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

// sortedKeys are a map's keys in order.
func sortedKeys[T any](m map[string]T) []string { return slices.Sorted(maps.Keys(m)) }

// tryCounters returns an Upstream.OnTry that counts a service's tries on
// counters resolved once.
func tryCounters(m *metrics.Metrics, service string) func(outcome string, retry bool) {
	counters := m.TryCounters(service)
	return func(outcome string, retry bool) {
		i := 0
		if retry {
			i = 1
		}
		for o, name := range metrics.TryOutcomes {
			if name == outcome {
				counters[o][i].Inc()
				return
			}
		}
	}
}

// countingBus counts what the relay publishes.
type countingBus struct {
	events.Bus
	m *metrics.Metrics
}

func (b countingBus) Publish(ctx context.Context, e events.Event) error {
	err := b.Bus.Publish(ctx, e)
	if err == nil {
		b.m.Published(e.Type, 1)
	}
	return err
}

func (b countingBus) PublishBatch(ctx context.Context, es []events.Event) error {
	if err := events.PublishAll(ctx, b.Bus, es); err != nil {
		return err
	}
	for _, e := range es {
		b.m.Published(e.Type, 1)
	}
	return nil
}

// stateCollector reads, at each scrape, what is a state rather than a
// count: breakers, instances, the outbox, consumer lag, processes.
type stateCollector struct{ r *Runner }

var (
	descBreakerState = prometheus.NewDesc("composer_breaker_state",
		"The state of a circuit breaker: 1 for the state it is in (closed, half_open, open), 0 for the others.", []string{"target", "state"}, nil)
	descBreakerTransitions = prometheus.NewDesc("composer_breaker_transitions_total",
		"Changes of state of a circuit breaker.", []string{"target"}, nil)
	descBreakerRejected = prometheus.NewDesc("composer_breaker_rejected_total",
		"Calls an open circuit breaker refused.", []string{"target"}, nil)
	descInstanceHealthy = prometheus.NewDesc("composer_instance_healthy",
		"1 when the instance passes its health checks, 0 when it fails them or is not probed yet.", []string{"service", "instance"}, nil)
	descInstanceEjected = prometheus.NewDesc("composer_instance_ejected",
		"1 while outlier detection keeps an instance out of its service's balancer.", []string{"service", "instance"}, nil)
	descInstanceInFlight = prometheus.NewDesc("composer_instance_in_flight",
		"Requests an instance is serving.", []string{"service", "instance"}, nil)
	descOutbox = prometheus.NewDesc("composer_outbox_events",
		"Events written by the built-in services that the bus does not have yet.", nil, nil)
	descLag = prometheus.NewDesc("composer_kafka_consumer_lag",
		"Messages a consumer group had left to read after the last one it handled.", []string{"group"}, nil)
	descRestarts = prometheus.NewDesc("composer_process_restarts_total",
		"Restarts of a process service's instance.", []string{"service", "instance"}, nil)
	descProcessUp = prometheus.NewDesc("composer_process_up",
		"1 while a process service's instance runs.", []string{"service", "instance"}, nil)
	descReloadFailed = prometheus.NewDesc("composer_reload_failed",
		"1 while the last reload of the platform file failed (the running platform is the generation before), 0 once one succeeds.", nil, nil)
	descRegistered = prometheus.NewDesc("composer_registry_instances",
		"Instances registered at run time, by service and state (passing, warning, critical).", []string{"service", "state"}, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBreakerState, descBreakerTransitions, descBreakerRejected, descInstanceHealthy, descInstanceEjected,
		descInstanceInFlight, descOutbox, descLag, descRestarts, descProcessUp, descRegistered, descReloadFailed} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.r.gen()
	failed := 0.0
	if st := c.r.Status(); !st.LastReload.OK {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(descReloadFailed, prometheus.GaugeValue, failed)
	for _, target := range sortedKeys(g.breakers) {
		s := g.breakers[target].Snapshot()
		for _, st := range []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open} {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descBreakerState, prometheus.GaugeValue, v, target, admin.StateName(st))
		}
		ch <- prometheus.MustNewConstMetric(descBreakerTransitions, prometheus.CounterValue, float64(s.Transitions), target)
		ch <- prometheus.MustNewConstMetric(descBreakerRejected, prometheus.CounterValue, float64(s.Rejected), target)
	}
	for _, name := range sortedKeys(g.services) {
		for _, in := range g.services[name].balancer.Instances() {
			v := 0.0
			if in.Health() == balancer.Healthy {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descInstanceHealthy, prometheus.GaugeValue, v, name, in.Address)
			ejected := 0.0
			if !in.EjectedUntil().IsZero() {
				ejected = 1
			}
			ch <- prometheus.MustNewConstMetric(descInstanceEjected, prometheus.GaugeValue, ejected, name, in.Address)
			ch <- prometheus.MustNewConstMetric(descInstanceInFlight, prometheus.GaugeValue, float64(in.InFlight()), name, in.Address)
		}
	}
	waiting := 0
	for _, st := range c.r.outboxes() {
		if n, err := st.OutboxLen(); err == nil {
			waiting += n
		}
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(waiting))
	if c.r.kafka != nil {
		for group, lag := range c.r.kafka.Lags() {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), group)
		}
	}
	counts := map[[2]string]int{}
	for name, s := range g.model.Services {
		if s.Discovery == "registry" {
			for _, st := range []string{registry.Passing, registry.Warning, registry.Critical} {
				counts[[2]string{name, st}] += 0
			}
		}
	}
	for _, in := range c.r.registry.All() {
		counts[[2]string{in.Service, in.Status()}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(descRegistered, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for _, name := range sortedKeys(g.processes) {
		for _, p := range g.processes[name].procs {
			st := p.Status()
			instance := p.Name()
			ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts), name, instance)
			up := 0.0
			if st.State == supervisor.Running {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descProcessUp, prometheus.GaugeValue, up, name, instance)
		}
	}
}
