package kafkabus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tuskcompose/composer/internal/events"
)

// partitionOf is the partition of 3 a key goes to (the bus's murmur2).
func partitionOf(key string) int {
	return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(key)}, 0, 1, 2)
}

// TestPartitionsInParallel: while one partition's handler is stuck, the
// other partitions' events are handled; each subject's events still come
// in order; once it is free, the stuck partition goes on where it was.
func TestPartitionsInParallel(t *testing.T) {
	c := cluster(t)
	b := newBus(t, c, "shop")
	stuck := partitionOf("s0")
	var others, all []events.Event
	for n := 0; n < 90; n++ {
		e := event("order.created", fmt.Sprintf("s%d", n%9), n)
		all = append(all, e)
		if partitionOf(e.Subject) != stuck {
			others = append(others, e)
		}
	}
	if len(others) == 0 || len(others) == len(all) {
		t.Fatalf("the subjects are not spread over the partitions: %d of %d elsewhere", len(others), len(all))
	}
	if err := b.PublishBatch(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var got []events.Event
	subscribe(t, b, events.Route{Name: "r", Topic: "order.created", Handler: func(ctx context.Context, e events.Event) error {
		if e.Subject == "s0" {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	}})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	deadline := time.Now().Add(20 * time.Second)
	for count() < len(others) {
		if time.Now().After(deadline) {
			t.Fatalf("%d events handled while s0's partition is stuck, want the %d of the other partitions", count(), len(others))
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	for count() < len(all) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events after the release", count(), len(all))
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[string]string{}
	for _, e := range got {
		if prev, ok := last[e.Subject]; ok && e.ID <= prev && len(e.ID) == len(prev) {
			t.Fatalf("subject %s: %s after %s", e.Subject, e.ID, prev)
		}
		last[e.Subject] = e.ID
	}
}

// TestBatchedCommits: the offsets of handled events are committed in
// batches (far fewer commits than events), and a consumer that stops
// commits what its handlers finished, so the next one repeats nothing.
func TestBatchedCommits(t *testing.T) {
	c := cluster(t)
	var commits atomic.Int64
	c.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		commits.Add(1)
		return nil, nil, false // observed; the cluster handles it
	})
	b := newBus(t, c, "shop")
	var batch []events.Event
	for n := 0; n < 2000; n++ {
		batch = append(batch, event("user.created", fmt.Sprint(n%50), n))
	}
	if err := b.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	stop := subscribe(t, b, events.Route{Name: "r", Topic: "user.created", Handler: col.handle})
	col.wait(t, 2000)
	stop()
	if n := commits.Load(); n == 0 || n > 2000/10 {
		t.Errorf("%d commits for 2,000 events: not batched", n)
	}
	col2 := newCollector()
	subscribe(t, newBus(t, c, "shop"), events.Route{Name: "r", Topic: "user.created", Handler: col2.handle})
	b.Publish(context.Background(), event("user.created", "last", 1))
	col2.wait(t, 1)
	time.Sleep(300 * time.Millisecond)
	if got := col2.subjects(); len(got) != 1 || got[0] != "last" {
		t.Fatalf("the next consumer got %d events, want only the new one: %v", len(got), got[:min(len(got), 10)])
	}
}
