package runner

import (
	"context"
	"net/http"
	"slices"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/admin"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/registry"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/services"
)

// The Runner is the admin API's admin.Platform: these are its views. They
// read the current generation without a reference (what a reload removes
// stops after the swap, and a view tolerates a stopped component) and
// never take reloadMu.
var _ admin.Platform = (*Runner)(nil)

// History returns the last reloads, oldest first.
func (r *Runner) History() []Reload {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	return append([]Reload(nil), r.history...)
}

// Model returns the running platform, resolved.
func (r *Runner) Model() *composer.Resolved { return r.gen().model }

// Services lists the services with their instances' health.
func (r *Runner) Services() []admin.Service {
	g := r.gen()
	out := []admin.Service{}
	registered := map[string]registry.Instance{} // by URL
	for _, in := range r.registry.All() {
		registered[in.Service+" "+in.URL()] = in
	}
	for _, name := range sortedKeys(g.model.Services) {
		s := g.model.Services[name]
		svc := admin.Service{Name: name, Kind: s.Kind, Routes: s.Routes}
		if e := g.services[name]; e != nil {
			for _, in := range e.balancer.Instances() {
				v := admin.Instance{Address: in.Address, Health: in.Health().String(), InFlight: in.InFlight(), Ejections: in.Ejections()}
				if until := in.EjectedUntil(); !until.IsZero() {
					v.EjectedUntil = &until
				}
				if s.Kind == "http" {
					v.Origin = "file"
					if reg, ok := registered[name+" "+in.Address]; ok && slices.Contains(s.Registered, in.Address) {
						v.Origin, v.ID, v.Tags, v.Version, v.State = "registry", reg.ID, reg.Tags, reg.Meta["version"], reg.Status()
						for _, c := range reg.Checks {
							if c.Kind == "ttl" && (v.LastHeartbeat == nil || c.Updated.After(*v.LastHeartbeat)) {
								beat := c.Updated
								v.LastHeartbeat = &beat
							}
						}
					}
				}
				svc.Instances = append(svc.Instances, v)
			}
		}
		out = append(out, svc)
	}
	return out
}

// Breakers returns every breaker's snapshot by call target.
func (r *Runner) Breakers() map[string]breaker.Snapshot {
	out := map[string]breaker.Snapshot{}
	for target, b := range r.gen().breakers {
		out[target] = b.Snapshot()
	}
	return out
}

// Processes lists the instances of the process services.
func (r *Runner) Processes() []admin.Process {
	g := r.gen()
	out := []admin.Process{}
	for _, name := range sortedKeys(g.processes) {
		out = append(out, g.processes[name].statuses()...)
	}
	return out
}

// Logs returns a process service's last output lines.
func (r *Runner) Logs(service string) ([]admin.Log, bool) {
	pg := r.gen().processes[service]
	if pg == nil {
		return nil, false
	}
	var out []admin.Log
	for _, p := range pg.procs {
		for _, l := range p.Logs() {
			out = append(out, admin.Log{Instance: p.Status().Instance, Line: l})
		}
	}
	return out, true
}

// Events reads the event store.
// The events come upcast to their current data schemas (services.Upcast).
func (r *Runner) Events(q store.Query) ([]store.Event, error) {
	evs, err := r.store.Events(q)
	for i, e := range evs {
		if up, uerr := services.Upcast(e); uerr == nil {
			evs[i] = up
		}
	}
	return evs, err
}

// Publish publishes an event on the bus.
func (r *Runner) Publish(ctx context.Context, e store.Event) error { return r.bus.Publish(ctx, e) }

// Counts are the request and event counts for the dashboard's rates.
func (r *Runner) Counts() map[string]int64 { return r.counts.snapshot() }

// Metrics serves the Prometheus metrics, nil when they are off.
func (r *Runner) Metrics() http.Handler {
	if r.metrics == nil {
		return nil
	}
	return r.metrics.Handler()
}

// Done is closed when the runner stops.
func (r *Runner) Done() <-chan struct{} { return r.ctx.Done() }
