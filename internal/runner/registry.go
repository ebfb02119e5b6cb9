package runner

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/registry"
)

// openRegistry makes the runner's registry: instances of the services
// with discovery: "registry" register through it (its Consul-shaped API
// on the admin address); each change is kept in the store, and what the
// store kept is read back (its ttl checks must beat again). Called by New.
func (r *Runner) openRegistry() error {
	r.registry = registry.New()
	r.registry.Known = func() []string {
		var out []string
		if g := r.gen(); g != nil {
			for name, s := range g.model.Services {
				if s.Discovery == "registry" {
					out = append(out, name)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	err := r.store.Registrations(func(id string, data []byte) error {
		var in registry.Instance
		if err := json.Unmarshal(data, &in); err != nil {
			r.log.Warn("a kept registration does not read; it is dropped", "id", id, "err", err)
			return nil
		}
		r.registry.Restore(&in)
		return nil
	})
	r.registry.Saved = func(id string, in *registry.Instance) {
		var data []byte
		if in != nil {
			data, _ = json.Marshal(in)
		}
		if err := r.store.PutRegistration(id, data); err != nil {
			r.log.Error("a registration is not kept in the store", "id", id, "err", err)
		}
	}
	return err
}

// registeredURLs are the passing registered instances of a platform's
// registry services, by service, in order.
func (r *Runner) registeredURLs(model *composer.Resolved) map[string][]string {
	out := map[string][]string{}
	for name, s := range model.Services {
		if s.Discovery != "registry" {
			continue
		}
		instances, _ := r.registry.Service(name, true)
		for _, in := range instances {
			out[name] = append(out[name], in.URL())
		}
	}
	return out
}

// Registry serves the registry's Consul-shaped API (admin.Platform).
func (r *Runner) Registry() http.Handler { return r.registry.Handler() }

// watchRegistry reaps the registry's ttl checks every second and, at each
// change of the passing instances, swaps in a generation with them: the
// plan of that change (instances added and removed, a balancer over them,
// health checks of the new) carried out as a reload would, without
// reading the file. It returns when the runner stops.
func (r *Runner) watchRegistry() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		changed := r.registry.Changed()
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
			r.registry.Reap() // its change is seen here, not on the next channel
		case <-changed:
		}
		r.syncRegistry()
	}
}

// syncRegistry swaps in the running platform with the registry's passing
// instances, when they differ from its own.
func (r *Runner) syncRegistry() {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	cur := r.gen()
	next := cur.model.WithRegistered(r.registeredURLs(cur.model))
	if next == cur.model {
		return
	}
	acts := composer.Diff(cur.model, next)
	if err := r.swap(next, cur.files, cur, acts); err != nil {
		r.log.Error("the registry's change is not applied", "err", err)
		return
	}
	r.log.Info("registry change applied", "generation", r.gen().number, "actions", len(acts.Changes()))
}
