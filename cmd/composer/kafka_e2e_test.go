package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/kafkabus"
)

// deliveries counts, per route, how often each event id reached the hook.
type deliveries struct {
	mu     sync.Mutex
	counts map[string]map[string]int
}

func (d *deliveries) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ce struct{ ID string }
	if err := json.NewDecoder(r.Body).Decode(&ce); err != nil || ce.ID == "" {
		http.Error(w, "not a CloudEvent", 400)
		return
	}
	route := strings.TrimPrefix(r.URL.Path, "/")
	d.mu.Lock()
	if d.counts[route] == nil {
		d.counts[route] = map[string]int{}
	}
	d.counts[route][ce.ID]++
	d.mu.Unlock()
}

// tally returns, for one route and the ids with a prefix, how many
// distinct ids arrived and how many deliveries were repeats.
func (d *deliveries) tally(route, prefix string) (distinct, duplicates int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, n := range d.counts[route] {
		if strings.HasPrefix(id, prefix) {
			distinct++
			duplicates += n - 1
		}
	}
	return distinct, duplicates
}

func (d *deliveries) waitAll(t *testing.T, prefix string, n int, routes ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done := true
		for _, r := range routes {
			if got, _ := d.tally(r, prefix); got < n {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			for _, r := range routes {
				got, dup := d.tally(r, prefix)
				t.Errorf("route %s: %d of %d events, %d duplicates", r, got, n, dup)
			}
			t.FailNow()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStableGroups waits until each consumer group has members members
// and no rebalance in progress.
func waitStableGroups(t *testing.T, brokers []string, members int, groups ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		described, err := adm.DescribeGroups(ctx, groups...)
		cancel()
		stable := err == nil
		for _, g := range groups {
			dg, ok := described[g]
			stable = stable && ok && dg.State == "Stable" && len(dg.Members) == members
		}
		if stable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer groups %v not stable with %d members: %v", groups, members, described)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func publishLoad(t *testing.T, brokers []string, prefix string, n int) {
	t.Helper()
	bus := kafkabus.New(kafkabus.Config{Brokers: brokers, AutoCreate: true, Linger: time.Millisecond})
	defer bus.Close()
	const batch = 500
	for start := 0; start < n; start += batch {
		var es []events.Event
		for i := start; i < min(start+batch, n); i++ {
			es = append(es, events.Event{ID: fmt.Sprintf("%s-%05d", prefix, i), Type: "load.created", Source: "/test",
				Subject: fmt.Sprint(i % 97), Time: time.Now().UTC(), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := bus.PublishBatch(ctx, es)
		cancel()
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// TestTwoInstancesShareKafkaRoutes runs two composer processes, one
// platform, on one Kafka-protocol cluster (kfake). Each route is a
// consumer group the two share: 10,000 events are each handled exactly
// once per route; then one instance is killed with SIGKILL in the middle
// of 10,000 more, and none is lost: the other takes its partitions over,
// and the only repeats are the events the killed one had handled and not
// yet committed (at most a commit batch per partition).
func TestTwoInstancesShareKafkaRoutes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "load.created"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	hook := &deliveries{counts: map[string]map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	instance := func(name string) string {
		file := filepath.Join(dir, name+".tsk")
		src := fmt.Sprintf(`[composer]
name: "shop"
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
[events]
bus: "kafka"
brokers: [%q]
linger: "1ms"
retry { backoff: "10ms" }
[event_routes]
first { topic: "load.created", to: ["%s/first"] }
second { topic: "load.created", to: ["%s/second"] }
`, filepath.Join(dir, name+"-data"), brokers[0], srv.URL, srv.URL)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	a := startBinary(t, bin, instance("a"))
	b := startBinary(t, bin, instance("b"))
	waitStableGroups(t, brokers, 2, "shop.first", "shop.second")

	// Without failures: exactly once per route.
	publishLoad(t, brokers, "calm", 10000)
	hook.waitAll(t, "calm", 10000, "first", "second")
	time.Sleep(200 * time.Millisecond) // let stragglers show
	for _, r := range []string{"first", "second"} {
		if n, dup := hook.tally(r, "calm"); n != 10000 || dup != 0 {
			t.Errorf("without failures, route %s: %d events, %d duplicates (want 10000, 0)", r, n, dup)
		}
	}

	// SIGKILL of one instance in the middle of the next 10,000.
	done := make(chan struct{})
	go func() { defer close(done); publishLoad(t, brokers, "storm", 10000) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n1, _ := hook.tally("first", "storm")
		n2, _ := hook.tally("second", "storm")
		if n1 >= 3000 && n2 >= 3000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load did not start: %d, %d", n1, n2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.cmd.Process.Kill()
	<-a.exited
	<-done
	hook.waitAll(t, "storm", 10000, "first", "second")
	time.Sleep(200 * time.Millisecond)
	for _, r := range []string{"first", "second"} {
		n, dup := hook.tally(r, "storm")
		t.Logf("after a SIGKILL, route %s: all %d events handled, %d delivered twice (handled and not yet committed at the kill; at most %d per partition)", r, n, dup, kafkabus.CommitBatch)
		// At least once, committed in batches: what can be repeated is
		// what the killed instance had handled and not yet committed, at
		// most one batch per partition it read.
		if n != 10000 || dup > 6*kafkabus.CommitBatch {
			t.Errorf("route %s after a SIGKILL: %d events, %d duplicates", r, n, dup)
		}
	}
	b.stop(t)
}
