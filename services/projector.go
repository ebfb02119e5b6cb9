package services

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/tuskcompose/composer/internal/store"
)

// ProjectionConsumer names a service's position in the event store, kept
// in the service's own store.
const ProjectionConsumer = "projection"

// Projects reports whether the service's entities are a projection of
// its events (users, orders); notifications keeps what it sent instead.
func (d *Descriptor) Projects() bool { return len(d.Owns.Aggregates) > 0 }

// Skipped is an event of the event store that a projection could not
// apply (its data does not decode): it is passed over, not retried.
type Skipped struct {
	Event store.Event
	Err   error
}

// ProjectOnce applies to own, the store of the service d, up to limit
// events of the event store events that come after the service's
// position: those d publishes, from d's source. Each batch is applied in
// one transaction of own with the position, so an event is applied once
// or, after a crash, again (Apply is idempotent). It returns the
// position before and after, and the events it passed over.
//
// This is how every instance's entities follow the events, on either
// bus: the event store holds every event of the platform (the embedded
// bus appends them; on Kafka each instance's own consumer group does).
// One projector per service store may run at a time.
func ProjectOnce(events, own *store.Store, d *Descriptor, limit int) (from, to uint64, skipped []Skipped, err error) {
	from, err = own.Offset(ProjectionConsumer)
	if err != nil {
		return 0, 0, nil, err
	}
	batch, scanned, err := events.EventsAfter(from, d.Publishes, limit)
	if err != nil || scanned == from {
		return from, from, nil, err
	}
	err = own.Update(func(tx *store.Tx) error {
		if tx.Offset(ProjectionConsumer) != from {
			return errors.New("another projector moved the position meanwhile")
		}
		skipped = skipped[:0]
		for _, e := range batch {
			if e.Source != d.Owns.Source || !slices.Contains(d.Publishes, e.Type) {
				continue // another service's events of the same type
			}
			if err := Apply(tx, e); err != nil {
				skipped = append(skipped, Skipped{e, err})
				continue
			}
			if err := tx.Observe(e); err != nil {
				return err
			}
		}
		return tx.SetOffset(ProjectionConsumer, scanned)
	})
	if err != nil {
		return from, from, nil, fmt.Errorf("project events into %s: %w", d.Name, err)
	}
	return from, scanned, skipped, nil
}

// Rebuild makes the entities of the service d in own again from the
// events of the event store: it forgets them (keeping the id sequences,
// and what is not derived from events: users' password hashes), then
// applies every event from the first, through ProjectOnce. progress, when
// not nil, is called after each batch with the position reached and the
// last position of the event store. The service must not be running.
func Rebuild(events, own *store.Store, d *Descriptor, progress func(at, last uint64)) (skipped []Skipped, err error) {
	if !d.Projects() {
		return nil, fmt.Errorf("%s keeps what it did, not a projection of events: there is nothing to rebuild", d.Name)
	}
	_, last, err := events.EventCount()
	if err != nil {
		return nil, err
	}
	err = own.Update(func(tx *store.Tx) error {
		for _, kind := range d.Owns.Kinds {
			if slices.Contains(d.Keeps, kind) {
				continue
			}
			if err := tx.Clear(kind); err != nil {
				return err
			}
		}
		for _, name := range d.Owns.Indexes {
			if err := tx.ClearIndex(name); err != nil {
				return err
			}
		}
		for _, typ := range d.Owns.Aggregates {
			if err := tx.ClearAggregates(typ); err != nil {
				return err
			}
		}
		return tx.SetOffset(ProjectionConsumer, 0)
	})
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(0, last)
	}
	for {
		from, to, s, err := ProjectOnce(events, own, d, 1024)
		skipped = append(skipped, s...)
		if err != nil {
			return skipped, err
		}
		if progress != nil && to != from {
			progress(to, last)
		}
		if to == from {
			return skipped, nil
		}
	}
}

// OpenStore opens the store of the built-in service d, <dataDir>/<name>.db,
// moving into it, the first time, what a data directory of one shared
// file kept of it in platform (the store of the platform: the event store
// and the routes' positions), and bringing entities of an older shape to
// the current one. Callers open each service's store once.
func OpenStore(dataDir string, platform *store.Store, d *Descriptor) (*store.Store, error) {
	own, err := store.Open(filepath.Join(dataDir, d.Name+".db"))
	if err != nil {
		return nil, err
	}
	if _, err := store.MoveOwned(platform, own, d.Owns); err != nil {
		own.Close()
		return nil, err
	}
	if d.upgrade != nil {
		if err := own.Update(d.upgrade); err != nil {
			own.Close()
			return nil, fmt.Errorf("bring %s's data to this release's shape: %w", d.Name, err)
		}
	}
	return own, nil
}
