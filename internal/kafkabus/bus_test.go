package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tuskcompose/composer/internal/events"
)

// cluster starts an in-process Kafka-protocol broker (kfake) on loopback.
func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newBus(t *testing.T, c *kfake.Cluster, group string) *Bus {
	t.Helper()
	b := New(Config{Brokers: c.ListenAddrs(), Group: group, AutoCreate: true, Partitions: 3, Linger: time.Millisecond})
	t.Cleanup(func() { b.Close() })
	return b
}

// collector records the subjects of the events a route handled.
type collector struct {
	mu    sync.Mutex
	got   []events.Event
	fails map[string]int // subject -> failures before success (-1: always)
}

func newCollector() *collector { return &collector{fails: map[string]int{}} }

func (c *collector) handle(_ context.Context, e events.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.fails[e.Subject]; n != 0 {
		if n > 0 {
			c.fails[e.Subject] = n - 1
		}
		return fmt.Errorf("handler refused %s", e.Subject)
	}
	c.got = append(c.got, e)
	return nil
}

func (c *collector) subjects() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.got {
		out = append(out, e.Subject)
	}
	return out
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.subjects()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d: %v", len(got), n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func subscribe(t *testing.T, b *Bus, r events.Route) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(ctx, r) }()
	stop = func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe ended with %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop
}

func event(typ, subject string, n int) events.Event {
	return events.Event{ID: fmt.Sprintf("%s-%s-%d", typ, subject, n), Type: typ, Source: "/test", Subject: subject,
		Time: time.Now().UTC(), Data: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

func TestPublishAndDeliverInOrderPerSubject(t *testing.T) {
	c := cluster(t)
	b := newBus(t, c, "shop")
	var batch []events.Event
	for n := 0; n < 30; n++ {
		batch = append(batch, event("order.created", fmt.Sprint(n%5), n))
	}
	if err := b.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	subscribe(t, b, events.Route{Name: "all", Topic: "order.created", Handler: col.handle})
	col.wait(t, 30)
	// One subject's events arrive in the order they were published.
	col.mu.Lock()
	defer col.mu.Unlock()
	last := map[string]string{}
	for _, e := range col.got {
		if prev, ok := last[e.Subject]; ok && string(e.Data) <= prev && len(e.Data) == len(prev) {
			t.Fatalf("subject %s: %s after %s", e.Subject, e.Data, prev)
		}
		last[e.Subject] = string(e.Data)
	}
}

func TestRouteSharedByTwoInstancesHandlesEachEventOnce(t *testing.T) {
	c := cluster(t)
	a, b := newBus(t, c, "shop"), newBus(t, c, "shop")
	colA, colB := newCollector(), newCollector()
	subscribe(t, a, events.Route{Name: "welcome", Topic: "user.created", Handler: colA.handle})
	subscribe(t, b, events.Route{Name: "welcome", Topic: "user.created", Handler: colB.handle})
	// Another route on the same topic gets every event too.
	other := newCollector()
	subscribe(t, a, events.Route{Name: "audit", Topic: "user.created", Handler: other.handle})
	var batch []events.Event
	for n := 0; n < 200; n++ {
		batch = append(batch, event("user.created", fmt.Sprint(n), n))
	}
	if err := a.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	other.wait(t, 200)
	deadline := time.Now().Add(20 * time.Second)
	for len(colA.subjects())+len(colB.subjects()) < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	all := append(colA.subjects(), colB.subjects()...)
	sort.Strings(all)
	if len(all) != 200 || len(slices.Compact(slices.Clone(all))) != 200 {
		t.Fatalf("the route handled %d events (%d distinct), want each of 200 once", len(all), len(slices.Compact(all)))
	}
	t.Logf("instance a handled %d, instance b %d", len(colA.subjects()), len(colB.subjects()))
}

func TestFilterRetriesAndDeadLetters(t *testing.T) {
	c := cluster(t)
	b := newBus(t, c, "shop")
	col := newCollector()
	col.fails["flaky"] = 2   // succeeds on the third try
	col.fails["poison"] = -1 // never
	filter := func(e events.Event) (bool, error) {
		switch e.Subject {
		case "small":
			return false, nil
		case "odd":
			return false, errors.New("no such key: total_amount")
		}
		return true, nil
	}
	noSleep := func(context.Context, time.Duration) error { return nil }
	subscribe(t, b, events.Route{Name: "big", Topic: "order.created", Handler: col.handle, Filter: filter, Sleep: noSleep,
		Retry: events.Retry{Attempts: 3}})
	for i, s := range []string{"flaky", "small", "poison", "odd", "after"} {
		if err := b.Publish(context.Background(), event("order.created", s, i)); err != nil {
			t.Fatal(err)
		}
	}
	col.wait(t, 2)
	time.Sleep(100 * time.Millisecond)
	// The subjects are keys of different partitions: no order between them.
	if got := col.subjects(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"after", "flaky"}) {
		t.Fatalf("delivered %v", got)
	}
	// The dead-letter topic has the two failed ones, as they were
	// published, with the reason and the route.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.ListenAddrs(), GroupID: "check", Topic: "order.created.dlq", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	reasons := map[string]string{}
	for len(reasons) < 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("dead letters: %v (have %v)", err, reasons)
		}
		e, err := Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range m.Headers {
			if h.Key == HeaderDeadLetterReason {
				reasons[e.Subject] = string(h.Value)
			}
			if h.Key == HeaderDeadLetterRoute && string(h.Value) != "big" {
				t.Errorf("route header %q", h.Value)
			}
		}
	}
	want := map[string]string{"poison": "after 3 tries: handler refused poison", "odd": "no such key: total_amount"}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("dead-letter reasons %v, want %v", reasons, want)
	}
}

func TestRestartedRouteResumes(t *testing.T) {
	c := cluster(t)
	b := newBus(t, c, "shop")
	col := newCollector()
	stop := subscribe(t, b, events.Route{Name: "r", Topic: "user.created", Handler: col.handle})
	b.Publish(context.Background(), event("user.created", "1", 1))
	b.Publish(context.Background(), event("user.created", "2", 2))
	col.wait(t, 2)
	stop()
	b.Publish(context.Background(), event("user.created", "3", 3)) // while the route is down
	col2 := newCollector()
	subscribe(t, newBus(t, c, "shop"), events.Route{Name: "r", Topic: "user.created", Handler: col2.handle})
	if got := col2.wait(t, 1); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("after a restart got %v, want only the new event", got)
	}
	time.Sleep(200 * time.Millisecond)
	if got := col2.subjects(); len(got) != 1 {
		t.Fatalf("after a restart got %v", got)
	}
}

func TestProject(t *testing.T) {
	c := cluster(t)
	b := newBus(t, c, "shop")
	b.Publish(context.Background(), event("user.created", "1", 1))
	b.Publish(context.Background(), event("order.created", "7", 2))
	b.Publish(context.Background(), event("user.created", "1", 1)) // published twice
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Project(ctx, "shop.store.test", []string{"user.created", "order.created"}, func(e events.Event) error {
			mu.Lock()
			seen[e.ID]++
			mu.Unlock()
			return nil
		})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := seen["user.created-1-1"] + seen["order.created-7-2"]
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("projected %v", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestUnreachableBrokers(t *testing.T) {
	b := New(Config{Brokers: []string{"127.0.0.1:1"}, Group: "shop", AutoCreate: true})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := b.Check(ctx); err == nil {
		t.Fatal("Check: no error for a port nobody listens on")
	}
	if err := b.Publish(ctx, event("user.created", "1", 1)); err == nil {
		t.Fatal("Publish: no error for a port nobody listens on")
	}
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := cluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "shop", "secret"))
			m, err := Mechanism(mech, "shop", "secret")
			if err != nil {
				t.Fatal(err)
			}
			b := New(Config{Brokers: c.ListenAddrs(), Group: "shop", AutoCreate: true, SASL: m, Linger: time.Millisecond})
			defer b.Close()
			col := newCollector()
			subscribe(t, b, events.Route{Name: "r", Topic: "user.created", Handler: col.handle})
			if err := b.Publish(context.Background(), event("user.created", "1", 1)); err != nil {
				t.Fatal(err)
			}
			col.wait(t, 1)

			wrong, _ := Mechanism(mech, "shop", "wrong")
			bad := New(Config{Brokers: c.ListenAddrs(), Group: "shop", SASL: wrong})
			defer bad.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := bad.Check(ctx); err == nil {
				t.Fatal("a wrong password was accepted")
			}
		})
	}
}

func TestClaimNodeGivesEachInstanceItsOwn(t *testing.T) {
	c := cluster(t)
	seen := map[uint64]bool{}
	for i := 0; i < 5; i++ {
		b := newBus(t, c, "shop")
		n, err := b.ClaimNode(context.Background(), fmt.Sprint("instance-", i))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || seen[n] {
			t.Fatalf("node %d given twice or zero (%v)", n, seen)
		}
		seen[n] = true
	}
}
