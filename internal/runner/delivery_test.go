package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/events"
)

// TestEventsToAServiceByName: an event route target that names a service
// (and a path) delivers the CloudEvent to one of its healthy instances,
// through its balancer and a breaker named events-><service>.
func TestEventsToAServiceByName(t *testing.T) {
	var mu sync.Mutex
	var got []string
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		b, _ := io.ReadAll(r.Body)
		var ce struct {
			Type, Source string
		}
		json.Unmarshal(b, &ce)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+ce.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(billing.Close)
	p := startPlatform(t, fmt.Sprintf(`[services]
billing { kind: "http", instances: [%q] }
[event_routes]
invoices { topic: "order.created", to: ["billing/hooks/order"] }
`, billing.URL))
	gw := "http://" + p.r.GatewayAddr()
	id := createUser(t, gw, "ada")
	if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":5}]}`, id)); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	eventually(t, "the delivery to billing", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	if got[0] != "POST /hooks/order application/cloudevents+json order.created" {
		t.Errorf("billing received %q", got[0])
	}
	mu.Unlock()
	if _, ok := p.r.Breakers()["events->billing"]; !ok {
		t.Errorf("no breaker events->billing: %v", p.r.Breakers())
	}
}

// handoffBus is a bus that records when each route's consumer subscribes
// and when it returns. A consumer takes 50 ms to return once its context
// ends, as a Kafka consumer does that commits and leaves its group.
type handoffBus struct {
	events.Bus
	mu  sync.Mutex
	log []string
}

func (b *handoffBus) Subscribe(ctx context.Context, r events.Route) error {
	b.record("start " + r.Name)
	err := b.Bus.Subscribe(ctx, r)
	time.Sleep(50 * time.Millisecond)
	b.record("end " + r.Name)
	return err
}

func (b *handoffBus) PublishBatch(ctx context.Context, es []events.Event) error {
	return events.PublishAll(ctx, b.Bus, es)
}

func (b *handoffBus) record(s string) {
	b.mu.Lock()
	b.log = append(b.log, s)
	b.mu.Unlock()
}

func (b *handoffBus) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

// An edited event route's new consumer subscribes only after the old one
// has returned: the route's consumer group changes hands, it is never
// shared by the two (on Kafka a shared group loses the old consumer's
// last commits, and their events are delivered again).
func TestReloadHandsAnEditedRouteOver(t *testing.T) {
	greeting := func(filter string) string {
		return fmt.Sprintf("greeting { topic: \"user.created\", to: [\"notifications\"]%s }\n", filter)
	}
	var bus *handoffBus
	wrapBus = func(b events.Bus) events.Bus { bus = &handoffBus{Bus: b}; return bus }
	defer func() { wrapBus = nil }()
	p := startPlatform(t, greeting(""))
	r := p.r
	eventually(t, "the three consumers", func() bool { return len(bus.seen()) >= 3 })
	if got := bus.seen(); len(got) != 3 {
		t.Fatalf("consumers at start: %q", got)
	}

	p.rewrite(t, greeting(`, filter: "data.username != 'root'"`))
	if res := r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	eventually(t, "the edited route's new consumer", func() bool { return len(bus.seen()) == 5 })
	got := bus.seen()
	slices.Sort(got[:3]) // the first consumers start in any order
	want := []string{"start greeting", "start order_confirmation", "start welcome", "end greeting", "start greeting"}
	if !slices.Equal(got, want) {
		t.Fatalf("consumers: %q, want %q", got, want)
	}

	// Removed, and back at the next reload while the removed consumer
	// still leaves: the new one waits for it too.
	p.rewrite(t, "")
	if res := r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload without the route: %+v", res)
	}
	p.rewrite(t, greeting(""))
	if res := r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload with the route back: %+v", res)
	}
	eventually(t, "the route's consumer back", func() bool { return len(bus.seen()) == 7 })
	if got := bus.seen()[5:]; !slices.Equal(got, []string{"end greeting", "start greeting"}) {
		t.Fatalf("consumers after the route came back: %q, want the removed one's end first", got)
	}

	gw := "http://" + r.GatewayAddr()
	createUser(t, gw, "ada")
	eventually(t, "the welcome through the new consumer", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Contains(body, "ada")
	})
}
