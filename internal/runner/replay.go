package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/tuskcompose/composer/internal/admin"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/store"
)

// The types of a replay are the admin API's.
type (
	// ReplayResult is what a replay did.
	ReplayResult = admin.ReplayResult
	// ErrNoRoute is a replay of a route the running platform does not have.
	ErrNoRoute = admin.ErrNoRoute
)

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
				fail(&res, e, err)
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
			fail(&res, e, err)
			continue
		}
		res.Delivered++
	}
	return res, nil
}

func fail(res *ReplayResult, e events.Event, err error) {
	res.Failed++
	if len(res.Errors) < 10 {
		res.Errors = append(res.Errors, fmt.Sprintf("event %s: %v", e.ID, err))
	}
}
