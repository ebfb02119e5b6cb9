package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// Embedded is the bus of one machine: events are appended to the store's
// event store (durable, each event id once), and each route is a consumer
// whose position is kept in the store, so a restart resumes where it left.
type Embedded struct {
	store *store.Store
	// Poll is how often consumers look for events when nothing wakes them.
	Poll time.Duration

	mu      sync.Mutex
	waiters []chan struct{}
}

// NewEmbedded returns the embedded bus on a store.
func NewEmbedded(s *store.Store) *Embedded { return &Embedded{store: s, Poll: time.Second} }

// Publish appends e to the event store and wakes the consumers.
func (b *Embedded) Publish(_ context.Context, e Event) error {
	if _, err := b.store.Append(e); err != nil {
		return err
	}
	b.wakeAll()
	return nil
}

// PublishBatch appends events to the event store in one transaction and
// wakes the consumers.
func (b *Embedded) PublishBatch(_ context.Context, es []Event) error {
	if _, err := b.store.AppendBatch(es); err != nil {
		return err
	}
	b.wakeAll()
	return nil
}

func (b *Embedded) wakeAll() {
	b.mu.Lock()
	for _, w := range b.waiters {
		select {
		case w <- struct{}{}:
		default: // already woken
		}
	}
	b.mu.Unlock()
}

func (b *Embedded) waiter() (chan struct{}, func()) {
	w := make(chan struct{}, 1)
	b.mu.Lock()
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	return w, func() {
		b.mu.Lock()
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
	}
}

// consumer names a route's position in the store.
func consumer(r Route) string { return "route:" + r.Name }

// Subscribe delivers the route's events in order, each at least once,
// until ctx ends. An event is handled (or dead-lettered) before the next
// one. The route's position is saved after each batch of up to 64 events
// and when ctx ends, so a crash repeats at most one batch.
func (b *Embedded) Subscribe(ctx context.Context, r Route) error {
	wake, stop := b.waiter()
	defer stop()
	if r.DeadLetter == "" {
		r.DeadLetter = r.Topic + ".dlq"
	}
	var types []string
	if r.Topic != "" {
		types = []string{r.Topic}
	}
	for {
		off, err := b.store.Offset(consumer(r))
		if err != nil {
			return err
		}
		batch, scanned, err := b.store.EventsAfter(off, types, 64)
		if err != nil {
			return err
		}
		done := off
		for _, e := range batch {
			if err := Deliver(ctx, r, e); err != nil {
				if ctx.Err() != nil {
					// Stopped: what was handled is kept; e is delivered
					// again after a restart.
					if done > off {
						b.store.SetOffset(consumer(r), done)
					}
					return ctx.Err()
				}
				if err := b.deadLetter(ctx, r, e, err); err != nil {
					return err
				}
				r.Note("dead_lettered")
			}
			done = e.Seq
		}
		// Past the events of other topics too, once those of this one
		// are handled.
		done = max(done, scanned)
		if done > off {
			if err := b.store.SetOffset(consumer(r), done); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(b.Poll):
		}
	}
}

// deadLetter publishes e on the route's dead-letter topic, with the reason.
func (b *Embedded) deadLetter(ctx context.Context, r Route, e Event, reason error) error {
	data, _ := json.Marshal(map[string]any{"event": e, DeadLetterReason: reason.Error(), "route": r.Name})
	return b.Publish(ctx, Event{
		ID:            e.ID + "." + r.Name + ".dlq",
		Type:          r.DeadLetter,
		Source:        "/composer/routes/" + r.Name,
		Subject:       e.Subject,
		Time:          time.Now().UTC(),
		Data:          data,
		CorrelationID: e.CorrelationID,
		CausationID:   e.ID,
	})
}

var _ Bus = (*Embedded)(nil)
