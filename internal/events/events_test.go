package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// collector is a route handler that records what it saw and can be told
// to fail.
type collector struct {
	mu    sync.Mutex
	seen  []string
	fails map[string]int // event id -> failures left
	got   chan string
}

func newCollector() *collector {
	return &collector{fails: map[string]int{}, got: make(chan string, 100)}
}

func (c *collector) handle(_ context.Context, e Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fails[e.ID] != 0 {
		if c.fails[e.ID] > 0 {
			c.fails[e.ID]--
		}
		return fmt.Errorf("handler refused %s", e.ID)
	}
	c.seen = append(c.seen, e.ID)
	c.got <- e.ID
	return nil
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-c.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("delivered %v, want %d events", c.seen, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

func noSleep(context.Context, time.Duration) error { return nil }

func subscribe(t *testing.T, bus *Embedded, r Route) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bus.Subscribe(ctx, r); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() { cancel(); <-done }
}

func publish(t *testing.T, bus Bus, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := bus.Publish(context.Background(), Event{ID: id, Type: "user.created", Subject: id, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeliveryInOrderOncePerRoute(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	a, b := newCollector(), newCollector()
	subscribe(t, bus, Route{Name: "a", Topic: "user.created", Handler: a.handle})
	subscribe(t, bus, Route{Name: "b", Topic: "user.created", Handler: b.handle, Filter: func(e Event) (bool, error) { return e.Subject != "2", nil }})
	publish(t, bus, "1", "2", "3")
	bus.Publish(context.Background(), Event{ID: "o1", Type: "order.created"}) // another topic
	publish(t, bus, "1")                                                      // published twice: kept once
	if got := a.wait(t, 3); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("route a got %v", got)
	}
	if got := b.wait(t, 2); fmt.Sprint(got) != "[1 3]" {
		t.Errorf("filtered route b got %v", got)
	}
}

func TestRetriesThenDeadLetter(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	c := newCollector()
	c.fails["flaky"] = 2   // succeeds on the third try
	c.fails["poison"] = -1 // never succeeds
	var waits []time.Duration
	var mu sync.Mutex
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	subscribe(t, bus, Route{Name: "welcome", Topic: "user.created", Handler: c.handle, Sleep: sleep,
		Retry: Retry{Attempts: 3, Backoff: 10 * time.Millisecond, Max: time.Second}})
	dlq := newCollector()
	subscribe(t, bus, Route{Name: "dlq-watch", Topic: "user.created.dlq", Handler: dlq.handle})
	publish(t, bus, "flaky", "poison", "after")
	if got := c.wait(t, 2); fmt.Sprint(got) != "[flaky after]" {
		t.Errorf("delivered %v", got)
	}
	dlq.wait(t, 1)
	dead, _ := s.Events(store.Query{Type: "user.created.dlq"})
	if len(dead) != 1 {
		t.Fatalf("dead letters %+v", dead)
	}
	var body map[string]any
	json.Unmarshal(dead[0].Data, &body)
	if reason, _ := body[DeadLetterReason].(string); reason != "after 3 tries: handler refused poison" || dead[0].CausationID != "poison" {
		t.Errorf("dead letter %s, reason %q", dead[0].Data, reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(waits) != "[10ms 20ms 10ms 20ms]" {
		t.Errorf("backoff waits %v", waits)
	}
}

func TestFilterErrorDeadLetters(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	c, dlq := newCollector(), newCollector()
	filter := func(e Event) (bool, error) {
		if e.Subject == "bad" {
			return false, errors.New("no such key: total_amount")
		}
		return true, nil
	}
	subscribe(t, bus, Route{Name: "big", Topic: "user.created", Handler: c.handle, Filter: filter})
	subscribe(t, bus, Route{Name: "dlq-watch", Topic: "user.created.dlq", Handler: dlq.handle})
	publish(t, bus, "1", "bad", "2")
	if got := c.wait(t, 2); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("delivered %v", got)
	}
	dlq.wait(t, 1)
	dead, _ := s.Events(store.Query{Type: "user.created.dlq"})
	var body map[string]any
	if len(dead) == 1 {
		json.Unmarshal(dead[0].Data, &body)
	}
	if reason, _ := body[DeadLetterReason].(string); len(dead) != 1 || reason != "no such key: total_amount" {
		t.Fatalf("dead letters %+v", dead)
	}
}

func TestRestartResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.db")
	s := openStore(t, path)
	bus := NewEmbedded(s)
	c := newCollector()
	stop := subscribe(t, bus, Route{Name: "r", Topic: "user.created", Handler: c.handle})
	publish(t, bus, "1", "2")
	c.wait(t, 2)
	stop()
	publish(t, bus, "3") // while the consumer is down

	c2 := newCollector()
	subscribe(t, bus, Route{Name: "r", Topic: "user.created", Handler: c2.handle})
	if got := c2.wait(t, 1); fmt.Sprint(got) != "[3]" {
		t.Errorf("after a restart got %v, want only the new event", got)
	}
}

func TestStopMidRetryRedelivers(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	c := newCollector()
	c.fails["1"] = -1
	ctx, cancel := context.WithCancel(context.Background())
	tried := make(chan struct{}, 10)
	r := Route{Name: "r", Topic: "user.created", Handler: func(ctx context.Context, e Event) error { tried <- struct{}{}; return c.handle(ctx, e) },
		Sleep: func(ctx context.Context, d time.Duration) error { <-ctx.Done(); return ctx.Err() }}
	done := make(chan error)
	go func() { done <- bus.Subscribe(ctx, r) }()
	publish(t, bus, "1")
	<-tried
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	if off, _ := s.Offset("route:r"); off != 0 {
		t.Errorf("offset %d after stopping mid-retry, want the event still pending", off)
	}
	c.mu.Lock()
	c.fails["1"] = 0
	c.mu.Unlock()
	r.Sleep = noSleep
	subscribe(t, bus, r)
	c.wait(t, 1)
}

// A delivery under way when its consumer stops finishes (Finishing), and
// its event is acknowledged: the next consumer of the route does not
// deliver it again, and delivers the one the stop left.
func TestStopLetsADeliveryFinish(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	c := newCollector()
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, e Event) error {
		if e.ID == "1" {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return c.handle(ctx, e)
	}
	deliveries, endDeliveries := context.WithCancel(context.Background())
	defer endDeliveries()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- bus.Subscribe(ctx, Route{Name: "r", Topic: "user.created", Handler: Finishing(slow, deliveries)})
	}()
	publish(t, bus, "1", "2")
	<-started
	cancel() // the consumer stops while "1" is being delivered
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	if got := c.wait(t, 1); fmt.Sprint(got) != "[1]" {
		t.Fatalf("before the stop: %v, want the delivery under way finished and no other", got)
	}

	next := newCollector()
	subscribe(t, bus, Route{Name: "r", Topic: "user.created", Handler: Finishing(next.handle, deliveries)})
	if got := next.wait(t, 1); fmt.Sprint(got) != "[2]" {
		t.Errorf("the next consumer delivered %v, want only the event the stop left", got)
	}
}

// Finishing ends a delivery under way when deliveries ends.
func TestFinishingEndsWithDeliveries(t *testing.T) {
	deliveries, endDeliveries := context.WithCancel(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error)
	h := Finishing(func(ctx context.Context, e Event) error {
		cancel() // the consumer stops: the delivery goes on
		if ctx.Err() != nil {
			return fmt.Errorf("cancelled with the consumer")
		}
		endDeliveries()
		<-ctx.Done()
		return ctx.Err()
	}, deliveries)
	go func() { cancelled <- h(ctx, Event{ID: "1"}) }()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("delivery ended with %v, want cancelled by deliveries", err)
	}
	if err := h(ctx, Event{ID: "2"}); !errors.Is(err, context.Canceled) {
		t.Errorf("a delivery after the consumer stopped: %v, want refused", err)
	}
}

func TestRelayMovesTheOutbox(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	for i := range 3 {
		s.Update(func(tx *store.Tx) error {
			_, err := tx.Emit(Event{Type: "order.created", Subject: fmt.Sprint(i)})
			return err
		})
	}
	failing := &flakyBus{Bus: NewEmbedded(s), failFirst: 2}
	if err := RelayOnce(context.Background(), s, failing); err == nil {
		t.Fatal("the relay did not report the bus being down")
	}
	if pending, _ := s.Pending(10); len(pending) != 3 {
		t.Fatalf("%d events in the outbox after a failed publish, want all 3 kept", len(pending))
	}
	failing.failFirst = 0
	if err := RelayOnce(context.Background(), s, failing); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.Pending(10)
	events, _ := s.Events(store.Query{Type: "order.created"})
	if len(pending) != 0 || len(events) != 3 {
		t.Errorf("outbox %d, event store %d, want 0 and 3", len(pending), len(events))
	}
}

type flakyBus struct {
	Bus
	failFirst int
}

func (f *flakyBus) Publish(ctx context.Context, e Event) error {
	if f.failFirst > 0 {
		f.failFirst--
		return errors.New("brokers unreachable")
	}
	return f.Bus.Publish(ctx, e)
}

func TestHTTPTarget(t *testing.T) {
	var got CloudEvent
	var contentType string
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentType = r.Header.Get("Content-Type")
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	h := HTTPTarget(srv.Client(), srv.URL+"/hooks/order")
	e := Event{ID: "e1", Type: "order.created", Source: "/services/orders", Subject: "7",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: json.RawMessage(`{"total_amount":120}`), CorrelationID: "req-1"}
	if err := h(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if contentType != "application/cloudevents+json" || got.SpecVersion != "1.0" || got.ID != "e1" || got.Subject != "7" ||
		got.Time != "2026-01-02T03:04:05Z" || string(got.Data) != `{"total_amount":120}` || got.CorrelationID != "req-1" {
		t.Errorf("received %s %+v", contentType, got)
	}
	status = http.StatusInternalServerError
	if err := h(context.Background(), e); err == nil {
		t.Error("a 500 was a success")
	}
}

func TestBatchPublishAndOffsetPastOtherTopics(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bus.db"))
	bus := NewEmbedded(s)
	var batch []Event
	for i := 0; i < 100; i++ {
		batch = append(batch, Event{ID: fmt.Sprint("o", i), Type: "order.created", Time: time.Now()})
	}
	batch = append(batch, Event{ID: "u1", Type: "user.created", Subject: "u1", Time: time.Now()}, Event{ID: "o0", Type: "order.created"})
	if err := bus.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Events(store.Query{}); len(all) != 101 {
		t.Fatalf("%d events stored, want 101 (o0 once)", len(all))
	}
	c := newCollector()
	subscribe(t, bus, Route{Name: "rare", Topic: "user.created", Handler: c.handle})
	if got := c.wait(t, 1); fmt.Sprint(got) != "[u1]" {
		t.Fatalf("got %v", got)
	}
	// The route's position moves past the other topic's events, so that
	// it does not look at them again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		off, _ := s.Offset(consumer(Route{Name: "rare"}))
		if off == 101 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset %d, want 101", off)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ BatchPublisher = (*Embedded)(nil)
