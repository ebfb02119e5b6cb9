// Package metrics holds the composer's Prometheus metrics that are counted
// as things happen (requests, tries, reloads, events). What is a state at
// scrape time (breakers, instance health, outbox depth, consumer lag,
// process restarts) is read by a collector of the runner's.
//
// Names follow Prometheus' conventions: a composer_ prefix, _total for
// counters, _seconds for durations; status codes as classes (2xx...) and
// routes as declared, never as requested, so that label sets stay small.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
)

// Metrics are the counted metrics, on their own registry (with the Go and
// process collectors).
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tries    *prometheus.CounterVec
	// tryCounters are TryCounters' (service -> *[3][2]prometheus.Counter).
	tryCounters sync.Map
	reloads     *prometheus.CounterVec
	reloadTime  prometheus.Histogram
	generation  prometheus.Gauge
	published   *prometheus.CounterVec
	events      *prometheus.CounterVec
	mesh        *prometheus.CounterVec
	grpc        *prometheus.CounterVec
	// grpcMethods bounds the label sets of grpc: a route such as
	// /shop.v1.Billing/*method matches any method a client names.
	grpcMu      sync.Mutex
	grpcMethods map[string]struct{}
}

// maxGRPCMethods is how many gRPC service and method pairs are counted
// by name; calls of further ones are counted as method "other".
const maxGRPCMethods = 512

// New returns the metrics, registered.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_http_requests_total", Help: "Requests the gateway answered, by service, route, method and status class.",
		}, []string{"service", "route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "composer_http_request_duration_seconds", Help: "Time from a request's arrival at the gateway to its answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service", "route"}),
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_upstream_tries_total", Help: "Calls to instances of http and process services, by outcome (success, failure, timeout) and whether the call was a retry.",
		}, []string{"service", "outcome", "retry"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_reloads_total", Help: "Reloads of the platform file, by result (applied, unchanged, failed).",
		}, []string{"result"}),
		reloadTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "composer_reload_duration_seconds", Help: "Time to load, validate, build and swap a generation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "composer_generation", Help: "The number of the running generation of the platform.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_events_published_total", Help: "Events the bus has accepted, by topic.",
		}, []string{"topic"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_events_total", Help: "Deliveries of event routes, by outcome (delivered, retried, filtered, dead_lettered).",
		}, []string{"route", "outcome"}),
		mesh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_mesh_tries_total", Help: "Tries of the calls between services through the mesh, by caller, target and outcome (success, failure, timeout).",
		}, []string{"caller", "target", "outcome"}),
		grpc: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "composer_grpc_calls_total", Help: "gRPC calls the gateway answered, by service of the platform, gRPC service, method and status code (\"none\": the call broke off without one).",
		}, []string{"service", "grpc_service", "grpc_method", "code"}),
		grpcMethods: map[string]struct{}{},
	}
	m.Registry.MustRegister(m.requests, m.duration, m.tries, m.reloads, m.reloadTime, m.generation, m.published, m.events, m.mesh, m.grpc,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// MeshCounter is the counter of one outcome of a caller's tries to a
// target through the mesh (nil Metrics: nil).
func (m *Metrics) MeshCounter(caller, target, outcome string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.mesh.WithLabelValues(caller, target, outcome)
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Request counts one answered request.
func (m *Metrics) Request(service, route, method string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(service, route, method, statusClass(status)).Inc()
	m.duration.WithLabelValues(service, route).Observe(took.Seconds())
}

func statusClass(status int) string {
	if c := status / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return strconv.Itoa(status/100) + "xx"
}

// Route is the request metrics of one route of one service: Request
// without the label lookups, each counter resolved at its first use for
// the common methods (a series appears once it has counted, as with
// Request). Safe for concurrent use; one per route, made when the
// gateway is built (a Route of a nil Metrics counts nothing).
type Route struct {
	m              *Metrics
	service, route string
	duration       atomic.Pointer[prometheus.Observer]
	requests       [len(routeMethods)][len(statusClasses)]atomic.Pointer[prometheus.Counter]
}

// routeMethods are the methods whose counters a Route keeps at hand.
var routeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut, http.MethodDelete,
	http.MethodPatch, http.MethodOptions}

// Route returns the metrics of one route.
func (m *Metrics) Route(service, route string) *Route {
	return &Route{m: m, service: service, route: route}
}

// Request counts one answered request of the route.
func (r *Route) Request(method string, status int, took time.Duration) {
	if r.m == nil {
		return
	}
	duration := r.duration.Load()
	if duration == nil {
		duration = new(prometheus.Observer)
		*duration = r.m.duration.WithLabelValues(r.service, r.route)
		r.duration.Store(duration)
	}
	(*duration).Observe(took.Seconds())
	i, c := slices.Index(routeMethods[:], method), status/100
	if i < 0 || c < 0 || c >= len(statusClasses) {
		r.m.requests.WithLabelValues(r.service, r.route, method, statusClass(status)).Inc()
		return
	}
	slot := &r.requests[i][c]
	counter := slot.Load()
	if counter == nil {
		counter = new(prometheus.Counter)
		*counter = r.m.requests.WithLabelValues(r.service, r.route, method, statusClasses[c])
		slot.Store(counter)
	}
	(*counter).Inc()
}

// statusClasses are the code label's values, by status / 100, made once.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx"}

// GRPC counts one gRPC call the gateway answered: its platform service,
// its gRPC service and method, and its status code (a number, or ""
// when it broke off).
func (m *Metrics) GRPC(service, grpcService, method, status string) {
	if m == nil {
		return
	}
	key := grpcService + "/" + method
	m.grpcMu.Lock()
	if _, ok := m.grpcMethods[key]; !ok {
		if len(m.grpcMethods) >= maxGRPCMethods {
			grpcService, method = "other", "other"
		} else {
			m.grpcMethods[key] = struct{}{}
		}
	}
	m.grpcMu.Unlock()
	code := "none"
	if n, err := strconv.Atoi(status); err == nil {
		code = codes.Code(n).String()
	}
	m.grpc.WithLabelValues(service, grpcService, method, code).Inc()
}

// Try counts one call to an instance.
func (m *Metrics) Try(service, outcome string, retry bool) {
	if m == nil {
		return
	}
	m.tries.WithLabelValues(service, outcome, strconv.FormatBool(retry)).Inc()
}

// TryCounter returns Try's counter for one service, outcome and retry,
// for callers that count on a hot path (resolving labels costs a hash and
// a lookup under a lock each time).
func (m *Metrics) TryCounter(service, outcome string, retry bool) prometheus.Counter {
	return m.tries.WithLabelValues(service, outcome, strconv.FormatBool(retry))
}

// TryOutcomes are the outcomes of Try, in the order of TryCounters.
var TryOutcomes = [3]string{"success", "failure", "timeout"}

// TryCounters returns Try's counters of one service, by outcome (in
// TryOutcomes' order) and retry, resolved once per service for the
// process's life (the vector keeps them that long anyway): a reload of a
// big platform does not resolve them again for every service.
func (m *Metrics) TryCounters(service string) *[3][2]prometheus.Counter {
	if c, ok := m.tryCounters.Load(service); ok {
		return c.(*[3][2]prometheus.Counter)
	}
	c := &[3][2]prometheus.Counter{}
	for i, o := range TryOutcomes {
		c[i] = [2]prometheus.Counter{m.TryCounter(service, o, false), m.TryCounter(service, o, true)}
	}
	got, _ := m.tryCounters.LoadOrStore(service, c)
	return got.(*[3][2]prometheus.Counter)
}

// Reload counts a reload and sets the generation.
func (m *Metrics) Reload(result string, took time.Duration, generation int) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(result).Inc()
	m.reloadTime.Observe(took.Seconds())
	m.generation.Set(float64(generation))
}

// Generation sets the number of the running generation.
func (m *Metrics) Generation(n int) {
	if m != nil {
		m.generation.Set(float64(n))
	}
}

// Published counts events the bus accepted.
func (m *Metrics) Published(topic string, n int) {
	if m == nil {
		return
	}
	m.published.WithLabelValues(topic).Add(float64(n))
}

// Event counts one outcome of a route's delivery.
func (m *Metrics) Event(route, outcome string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(route, outcome).Inc()
}
