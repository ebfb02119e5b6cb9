package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/supervisor"
)

// Platform is a running platform as the admin API sees it. The runner
// implements it; every method may be called from many goroutines, and
// none waits behind a reload that waits for processes to become healthy.
type Platform interface {
	// Status is the generation, the files, the last reload and the bus.
	Status() Status
	// History is the last reloads, oldest first.
	History() []Reload
	// Model is the running platform, resolved.
	Model() *composer.Resolved
	// Services lists the services with their instances' health.
	Services() []Service
	// Breakers are the circuit breakers by call target.
	Breakers() map[string]breaker.Snapshot
	// Processes lists the instances of process services.
	Processes() []Process
	// Logs are a process service's last output lines; false when there
	// is no such process service.
	Logs(service string) ([]Log, bool)
	// Events reads the event store.
	Events(q store.Query) ([]store.Event, error)
	// Publish publishes an event on the bus.
	Publish(ctx context.Context, e store.Event) error
	// Replay re-delivers the event store's events of a route's topic to
	// it (ErrNoRoute when there is no such route).
	Replay(ctx context.Context, route string, from time.Time) (ReplayResult, error)
	// Reload reloads the platform file now.
	Reload() Reload
	// Counts are the request and event counts by "svc:NAME" and
	// "route:NAME", for the dashboard's rates.
	Counts() map[string]int64
	// Metrics serves the Prometheus metrics (nil when they are off).
	Metrics() http.Handler
	// Done is closed when the platform stops.
	Done() <-chan struct{}
	// Mesh lists the calls of process services through the composer.
	Mesh() []MeshPair
	// Registry serves the registry's Consul-shaped API (/v1/agent/,
	// /v1/health/, /v1/catalog/); nil: none.
	Registry() http.Handler
}

// MeshPair is one declared call through the mesh: its upstream address
// (in the caller's environment) and its breaker's state.
type MeshPair struct {
	Caller  string `json:"caller"`
	Target  string `json:"target"`
	Address string `json:"address"`
	Breaker string `json:"breaker,omitempty"`
}

// Status is what /v1/status reports.
type Status struct {
	Generation int       `json:"generation"`
	Files      []string  `json:"files"`
	LastReload Reload    `json:"last_reload"`
	Started    time.Time `json:"started"`
	Bus        BusState  `json:"bus"`
	// Mesh is the address of [mesh] listen.
	Mesh string `json:"mesh"`
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
	Time time.Time `json:"time"`
	OK   bool      `json:"ok"`
	// Changed says a new generation serves.
	Changed     bool     `json:"changed"`
	Diagnostics []string `json:"diagnostics,omitempty"`
	// Actions are what the reload did, as `composer plan --format json`
	// lists them: every action but keep.
	Actions  composer.Actions `json:"actions"`
	Duration string           `json:"duration"`
}

// Service is one service of /v1/services.
type Service struct {
	Name      string     `json:"name"`
	Kind      string     `json:"kind"`
	Routes    []string   `json:"routes"`
	Instances []Instance `json:"instances,omitempty"`
}

// Instance is an instance's address and health.
type Instance struct {
	Address  string `json:"address"`
	Health   string `json:"health"`
	InFlight int64  `json:"in_flight"`
	// EjectedUntil is set while outlier detection keeps the instance out
	// of the balancer; Ejections counts the times it did.
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	Ejections    int        `json:"ejections,omitempty"`
	// Origin is "file" (the platform file's instances) or "registry"
	// (registered at run time; then its id, tags, version (its meta
	// "version"), registry state and last heartbeat).
	Origin        string     `json:"origin,omitempty"`
	ID            string     `json:"id,omitempty"`
	Tags          []string   `json:"tags,omitempty"`
	Version       string     `json:"version,omitempty"`
	State         string     `json:"state,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
}

// Process is one instance of a process service, as `composer ps` shows it.
type Process struct {
	supervisor.Status
	Health  string `json:"health"`
	Uptime  string `json:"uptime,omitempty"`
	Blocked string `json:"blocked,omitempty"`
}

// Log is one output line of a process service's instance.
type Log struct {
	Instance int `json:"instance"`
	supervisor.Line
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	Route     string    `json:"route"`
	Topic     string    `json:"topic"`
	From      time.Time `json:"from"`
	Events    int       `json:"events"`    // in the store, of the topic, from the time on
	Delivered int       `json:"delivered"` // handled by the route's targets
	Filtered  int       `json:"filtered"`  // not let through by the route's filter
	Failed    int       `json:"failed"`    // failed after the route's retries (not dead-lettered again)
	Errors    []string  `json:"errors,omitempty"`
}

// ErrNoRoute is a replay of a route the running platform does not have.
type ErrNoRoute string

func (e ErrNoRoute) Error() string { return fmt.Sprintf("no event route %q", string(e)) }
