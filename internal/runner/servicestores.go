package runner

import (
	"slices"
	"sync"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/services"
)

// serviceStores are the built-in services' own stores
// (services.OpenStore, <data_dir>/<name>.db), opened when a platform
// first declares the service and kept open until Stop. Each has a
// projector that keeps its entities up with the event store (r.store's),
// woken when events are appended to it. The lock guards the maps and
// the stores' node (SetNode).
type serviceStores struct {
	mu    sync.Mutex
	open  map[string]*store.Store
	wakes []chan struct{}
}

// openServiceStores opens the stores of the built-in services model
// declares that are not open yet. Called with reloadMu held (or from
// New), before the generation that mounts them is built.
func (r *Runner) openServiceStores(model *composer.Resolved) error {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	if r.svcStores.open == nil {
		r.svcStores.open = map[string]*store.Store{}
	}
	var builtins []string
	for name, s := range model.Services {
		if s.Kind == "builtin" {
			builtins = append(builtins, name)
		}
	}
	slices.Sort(builtins)
	for _, name := range builtins {
		d := services.Lookup(name)
		if d == nil || r.svcStores.open[name] != nil {
			continue
		}
		st, err := services.OpenStore(model.Composer.DataDir, r.store, d)
		if err != nil {
			return err
		}
		if r.kafka != nil {
			st.RequireNode()
		}
		if n, ok, err := r.store.Node(); err == nil && ok {
			if err := st.SetNode(n); err != nil {
				st.Close()
				return err
			}
		}
		st.OnEmit(r.wakeRelay)
		r.svcStores.open[name] = st
		if d.Projects() {
			wake := make(chan struct{}, 1)
			r.svcStores.wakes = append(r.svcStores.wakes, wake)
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				r.projectInto(st, d, wake)
			}()
		}
	}
	return nil
}

// serviceStore returns the open store of the built-in service name (nil
// when the platform never declared it).
func (r *Runner) serviceStore(name string) *store.Store {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	return r.svcStores.open[name]
}

// outboxes are the stores whose outboxes the relay empties: the
// platform's (events published through the admin API) and the built-in
// services'.
func (r *Runner) outboxes() []*store.Store {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	out := []*store.Store{r.store}
	for _, name := range sortedKeys(r.svcStores.open) {
		out = append(out, r.svcStores.open[name])
	}
	return out
}

// setNode gives this instance's stores their node (claimNode).
func (r *Runner) setNode(n uint64) error {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	if err := r.store.SetNode(n); err != nil {
		return err
	}
	for _, st := range r.svcStores.open {
		if err := st.SetNode(n); err != nil {
			return err
		}
	}
	return nil
}

// wakeRelay wakes the outbox relay (a store's OnEmit).
func (r *Runner) wakeRelay() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// wakeProjectors wakes the projectors (the event store's OnAppend).
func (r *Runner) wakeProjectors() {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	for _, w := range r.svcStores.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// projectInto applies the event store's events of d to st until the
// runner stops (services.ProjectOnce), looking when woken and every
// second.
func (r *Runner) projectInto(st *store.Store, d *services.Descriptor, wake <-chan struct{}) {
	for {
		from, to, skipped, err := services.ProjectOnce(r.store, st, d, 256)
		for _, s := range skipped {
			r.log.Error("projection: an event that does not apply is passed over", "service", d.Name, "event", s.Event.ID, "type", s.Event.Type, "err", s.Err)
		}
		if err != nil && r.ctx.Err() == nil {
			r.log.Error("projection", "service", d.Name, "err", err)
		}
		if err == nil && to != from {
			continue
		}
		select {
		case <-r.ctx.Done():
			return
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// closeServiceStores closes the services' stores; Stop calls it once
// nothing uses them.
func (r *Runner) closeServiceStores() error {
	r.svcStores.mu.Lock()
	defer r.svcStores.mu.Unlock()
	var first error
	for _, st := range r.svcStores.open {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.svcStores.open = nil
	return first
}
