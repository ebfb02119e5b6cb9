package composer

import (
	"context"
	"fmt"
	"time"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/store"
)

// ReplayResult is what a replay did.
type ReplayResult struct {
	Route     string    `json:"route"`
	Topic     string    `json:"topic"`
	From      time.Time `json:"from"`
	Events    int       `json:"events"`    // events of the topic in the event store since From
	Delivered int       `json:"delivered"` // handled by the route's targets
	Filtered  int       `json:"filtered"`  // left out by the route's filter
	Failed    int       `json:"failed"`    // failed after the route's retries (not dead-lettered again)
	Errors    []string  `json:"errors,omitempty"`
}

// ErrNoRoute is a replay of a route the running platform does not have.
type ErrNoRoute string

func (e ErrNoRoute) Error() string { return fmt.Sprintf("no event route %q", string(e)) }

// Replay re-delivers to one event route the events of its topic that the
// event store holds from a time on, oldest first, through the route's
// filter and with its retries. It runs beside the route's consumer, which
// goes on with new events. A delivery that fails is counted and reported,
// not dead-lettered: the event is in the event store already, and a replay
// can be run again.
func (r *Runner) Replay(ctx context.Context, route string, from time.Time) (ReplayResult, error) {
	rt := r.gen().routes[route]
	if rt == nil {
		return ReplayResult{}, ErrNoRoute(route)
	}
	res := ReplayResult{Route: route, Topic: rt.consumer.Topic, From: from}
	evs, err := r.store.Events(store.Query{Type: rt.consumer.Topic, Since: from})
	if err != nil {
		return res, err
	}
	res.Events = len(evs)
	consumer := rt.consumer
	filter := consumer.Filter
	consumer.Filter = nil
	for _, e := range evs {
		if filter != nil {
			ok, err := filter(e)
			if err != nil {
				res.fail(e, err)
				continue
			}
			if !ok {
				res.Filtered++
				continue
			}
		}
		if err := events.Deliver(ctx, consumer, e); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.fail(e, err)
			continue
		}
		res.Delivered++
	}
	return res, nil
}

func (res *ReplayResult) fail(e events.Event, err error) {
	res.Failed++
	if len(res.Errors) < 10 {
		res.Errors = append(res.Errors, fmt.Sprintf("event %s: %v", e.ID, err))
	}
}
