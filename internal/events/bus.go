// Package events carries the platform's events from the services that
// publish them to the event routes that consume them.
//
// The flow: a service writes an entity and its event in one transaction,
// the event going to the store's outbox; the Relay publishes outbox events
// on the Bus and only then removes them from the outbox, so an event is
// never lost between the two. A Bus delivers every event of a route's topic
// at least once to the route's handler, retrying with backoff, and after
// the last try moves it to the route's dead-letter topic with the reason.
//
// Bus is an interface: the embedded bus (this package, durable in the
// store) and a Kafka bus fill it.
package events

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/tracing"
)

// Event is the envelope of every event (CloudEvents-shaped).
type Event = store.Event

// Handler handles one event. An error means "try again later".
type Handler func(ctx context.Context, e Event) error

// Route is an event route: the events of Topic, passed through Filter,
// go to Handler.
type Route struct {
	Name       string
	Topic      string                                     // event type, e.g. user.created
	Filter     func(e Event) (bool, error)                // nil: every event; an error dead-letters the event
	Handler    Handler                                    // the route's targets, one after the other
	Retry      Retry                                      // tries before the dead-letter topic
	DeadLetter string                                     // dead-letter topic (default Topic + ".dlq")
	Sleep      func(context.Context, time.Duration) error // waits between tries (tests replace it)
	// Observe, when set, is told each outcome: delivered, retried,
	// filtered, dead_lettered (metrics).
	Observe func(outcome string)
}

// Note tells the route's Observe an outcome.
func (r Route) Note(outcome string) {
	if r.Observe != nil {
		r.Observe(outcome)
	}
}

// Retry says how often and how far apart a failing event is tried.
// The JSON names are the platform file's keys.
type Retry struct {
	Attempts int           `json:"attempts"`    // tries in all
	Backoff  time.Duration `json:"backoff"`     // wait after the first failure, doubled after each
	Max      time.Duration `json:"max_backoff"` // longest wait
}

// DefaultRetry is the retry of a route that sets none: the one place it
// is written (the platform's [events] retry defaults are these).
var DefaultRetry = Retry{Attempts: 5, Backoff: 100 * time.Millisecond, Max: 10 * time.Second}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRetry.Backoff
	}
	if r.Max <= 0 {
		r.Max = DefaultRetry.Max
	}
	return r
}

// wait returns the wait after the n-th failed try (n from 1).
func (r Retry) wait(n int) time.Duration {
	d := r.Backoff
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Bus publishes events and delivers them to routes.
type Bus interface {
	// Publish makes e durable on the bus; when it returns nil, every
	// route of e's topic will receive e at least once.
	Publish(ctx context.Context, e Event) error
	// Subscribe delivers the route's events until ctx ends, from where the
	// route left off (a restarted consumer resumes, it does not start over).
	Subscribe(ctx context.Context, r Route) error
}

// BatchPublisher is a Bus that publishes several events in one call
// (the relay uses it for the outbox): when it returns nil, the bus has
// every one of them.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, es []Event) error
}

// PublishAll publishes events on bus: in one call when it is a
// BatchPublisher, else one after the other, stopping at the first error.
func PublishAll(ctx context.Context, bus Bus, es []Event) error {
	if bp, ok := bus.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, es)
	}
	for _, e := range es {
		if err := bus.Publish(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// DeadLetterReason is the extension attribute, in a dead-lettered event's
// data, that says why its delivery failed.
const DeadLetterReason = "deadletterreason"

// Deliver passes e through the route's filter and, when it matches, runs
// the route's handler on it with retries. It returns nil when the event
// was handled or filtered out, ctx's error when ctx ended first, and
// otherwise the reason to dead-letter the event: the filter's error, or
// the handler's last one after every try failed.
func Deliver(ctx context.Context, r Route, e Event) (err error) {
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = tracing.Tracer().Start(tracing.WithTraceParent(ctx, e.TraceParent), "deliver "+r.Name,
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("event.id", e.ID), attribute.String("event.type", e.Type), attribute.String("route", r.Name)))
		defer func() {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
	}
	if r.Filter != nil {
		ok, err := r.Filter(e)
		if err != nil {
			return err
		}
		if !ok {
			r.Note("filtered")
			return nil
		}
	}
	return deliver(ctx, r, e)
}

// deliver runs the route's handler on e with retries. It returns the last
// error when every try failed, or ctx's error when it ended first.
func deliver(ctx context.Context, r Route, e Event) error {
	retry := r.Retry.withDefaults()
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var err error
	for attempt := 1; attempt <= retry.Attempts; attempt++ {
		if attempt > 1 {
			r.Note("retried")
			trace.SpanFromContext(ctx).AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", attempt)))
		}
		if err = r.Handler(ctx, e); err == nil {
			r.Note("delivered")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt < retry.Attempts {
			if serr := sleep(ctx, retry.wait(attempt)); serr != nil {
				return serr
			}
		}
	}
	return fmt.Errorf("after %d tries: %w", retry.Attempts, err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Relay moves the outboxes of the stores that stores returns onto the
// bus: publish, then remove from the outbox. It runs until ctx ends,
// looking at the outboxes when wake fires and every interval.
func Relay(ctx context.Context, stores func() []*store.Store, bus Bus, wake <-chan struct{}, interval time.Duration) error {
	for {
		var failed error
		for _, s := range stores() {
			if err := RelayOnce(ctx, s, bus); err != nil {
				failed = err
			}
		}
		if failed != nil && ctx.Err() == nil {
			// The bus is down: the events wait in the outboxes.
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(interval):
		}
	}
}

// RelayOnce publishes every event of the outbox, oldest first.
func RelayOnce(ctx context.Context, s *store.Store, bus Bus) error {
	for {
		pending, err := s.Pending(256)
		if err != nil || len(pending) == 0 {
			return err
		}
		if bp, ok := bus.(BatchPublisher); ok {
			if err := bp.PublishBatch(ctx, pending); err != nil {
				return fmt.Errorf("publish %d events: %w", len(pending), err)
			}
			seqs := make([]uint64, len(pending))
			for i, e := range pending {
				seqs[i] = e.Seq
			}
			if err := s.Ack(seqs...); err != nil {
				return err
			}
			continue
		}
		for _, e := range pending {
			if err := bus.Publish(ctx, e); err != nil {
				return fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
			}
			if err := s.Ack(e.Seq); err != nil {
				return err
			}
		}
	}
}
