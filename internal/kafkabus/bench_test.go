package kafkabus

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/store"
)

// The event benchmarks: the composer's buses next to raw kafka-go on the
// same in-process broker (kfake), in the same run. An op is one event.
//
//	go test ./internal/kafkabus -run '^$' -bench . -benchtime 20000x
//
// Publish: events written in batches of benchBatch, each call waiting for
// the broker's acknowledgement. Delivery: events published in batches
// and read by a consumer group that commits after each event, from the
// first publish to the last event handled; p99 is the latency of one
// event, from the start of its batch's publish to its handler.
const benchBatch = 100

func benchCluster(b *testing.B) []string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench.created"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()
}

func benchEvents(n int) []events.Event {
	es := make([]events.Event, n)
	now := time.Now().UTC()
	for i := range es {
		es[i] = events.Event{ID: fmt.Sprintf("ev-%08d", i), Type: "bench.created", Source: "/bench", Subject: fmt.Sprint(i % 64),
			Time: now, Data: []byte(`{"id": 1, "user_id": 7, "total_amount": 150.5, "status": "Pending"}`)}
	}
	return es
}

func rawWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchSize: benchBatch, BatchTimeout: time.Millisecond}
}

func rawMessages(es []events.Event) []kafka.Message {
	msgs := make([]kafka.Message, len(es))
	for i, e := range es {
		msgs[i] = kafka.Message{Topic: "bench.created", Key: []byte(e.Subject), Value: e.Data}
	}
	return msgs
}

func BenchmarkPublish(b *testing.B) {
	b.Run("raw-kafka-go", func(b *testing.B) {
		w := rawWriter(benchCluster(b))
		defer w.Close()
		msgs := rawMessages(benchEvents(benchBatch))
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i += benchBatch {
			if err := w.WriteMessages(ctx, msgs[:min(benchBatch, b.N-i)]...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kafkabus", func(b *testing.B) {
		bus := New(Config{Brokers: benchCluster(b), BatchSize: benchBatch, Linger: time.Millisecond})
		defer bus.Close()
		es := benchEvents(benchBatch)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i += benchBatch {
			if err := bus.PublishBatch(ctx, es[:min(benchBatch, b.N-i)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("embedded", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		bus := events.NewEmbedded(st)
		es := benchEvents(b.N)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i += benchBatch {
			if err := bus.PublishBatch(ctx, es[i:min(i+benchBatch, b.N)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// latencies records, per event index, when its batch's publish started
// and when its handler ran.
type latencies struct {
	published []time.Time
	handled   []time.Duration
	seen      atomic.Int64
	done      chan struct{}
	mu        sync.Mutex
	n         int
}

func newLatencies(n int) *latencies {
	return &latencies{published: make([]time.Time, n), done: make(chan struct{}), n: n}
}

func (l *latencies) handle(i int) {
	d := time.Since(l.published[i])
	l.mu.Lock()
	l.handled = append(l.handled, d)
	l.mu.Unlock()
	if l.seen.Add(1) == int64(l.n) {
		close(l.done)
	}
}

func (l *latencies) report(b *testing.B) {
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d events handled", l.seen.Load(), l.n)
	}
	b.StopTimer()
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.handled)
	b.ReportMetric(float64(l.handled[len(l.handled)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(l.n)/b.Elapsed().Seconds(), "events/s")
}

// index reads the event's position from its id (ev-%08d).
func index(id string) int {
	var i int
	fmt.Sscanf(id, "ev-%d", &i)
	return i
}

func publishAll(b *testing.B, l *latencies, publish func([]events.Event) error) {
	es := benchEvents(l.n)
	for i := 0; i < len(es); i += benchBatch {
		batch := es[i:min(i+benchBatch, len(es))]
		now := time.Now()
		for j := range batch {
			l.published[i+j] = now
		}
		if err := publish(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDelivery(b *testing.B) {
	b.Run("raw-kafka-go", func(b *testing.B) {
		brokers := benchCluster(b)
		l := newLatencies(b.N)
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "bench", Topic: "bench.created", StartOffset: kafka.FirstOffset,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second})
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				var id string
				for _, h := range m.Headers {
					if h.Key == "id" {
						id = string(h.Value)
					}
				}
				l.handle(index(id))
				if err := r.CommitMessages(ctx, m); err != nil {
					return
				}
			}
		}()
		w := rawWriter(brokers)
		defer w.Close()
		b.ResetTimer()
		publishAll(b, l, func(es []events.Event) error {
			msgs := rawMessages(es)
			for i := range msgs {
				msgs[i].Headers = []kafka.Header{{Key: "id", Value: []byte(es[i].ID)}}
			}
			return w.WriteMessages(ctx, msgs...)
		})
		l.report(b)
	})
	b.Run("kafkabus", func(b *testing.B) {
		bus := New(Config{Brokers: benchCluster(b), Group: "bench", BatchSize: benchBatch, Linger: time.Millisecond})
		defer bus.Close()
		l := newLatencies(b.N)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go bus.Subscribe(ctx, events.Route{Name: "r", Topic: "bench.created", Handler: func(_ context.Context, e events.Event) error {
			l.handle(index(e.ID))
			return nil
		}})
		b.ResetTimer()
		publishAll(b, l, func(es []events.Event) error { return bus.PublishBatch(ctx, es) })
		l.report(b)
	})
	b.Run("embedded", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		bus := events.NewEmbedded(st)
		l := newLatencies(b.N)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go bus.Subscribe(ctx, events.Route{Name: "r", Topic: "bench.created", Handler: func(_ context.Context, e events.Event) error {
			l.handle(index(e.ID))
			return nil
		}})
		b.ResetTimer()
		publishAll(b, l, func(es []events.Event) error { return bus.PublishBatch(ctx, es) })
		l.report(b)
	})
}

// BenchmarkLatency publishes one event at a time and waits for the
// route's handler to see it: the latency of one event through an idle
// bus, without the queueing of a burst.
func BenchmarkLatency(b *testing.B) {
	pingPong := func(b *testing.B, publish func(events.Event) error, handled <-chan struct{}) {
		es := benchEvents(b.N)
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for _, e := range es {
			start := time.Now()
			if err := publish(e); err != nil {
				b.Fatal(err)
			}
			select {
			case <-handled:
			case <-time.After(30 * time.Second):
				b.Fatal("the event was not handled")
			}
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("raw-kafka-go", func(b *testing.B) {
		brokers := benchCluster(b)
		handled := make(chan struct{})
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "bench", Topic: "bench.created", StartOffset: kafka.FirstOffset,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second})
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil || r.CommitMessages(ctx, m) != nil {
					return
				}
				handled <- struct{}{}
			}
		}()
		w := rawWriter(brokers)
		defer w.Close()
		pingPong(b, func(e events.Event) error { return w.WriteMessages(ctx, rawMessages([]events.Event{e})...) }, handled)
	})
	b.Run("kafkabus", func(b *testing.B) {
		bus := New(Config{Brokers: benchCluster(b), Group: "bench", Linger: time.Millisecond})
		defer bus.Close()
		handled := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go bus.Subscribe(ctx, events.Route{Name: "r", Topic: "bench.created", Handler: func(context.Context, events.Event) error {
			handled <- struct{}{}
			return nil
		}})
		pingPong(b, func(e events.Event) error { return bus.Publish(ctx, e) }, handled)
	})
	b.Run("embedded", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		bus := events.NewEmbedded(st)
		handled := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go bus.Subscribe(ctx, events.Route{Name: "r", Topic: "bench.created", Handler: func(context.Context, events.Event) error {
			handled <- struct{}{}
			return nil
		}})
		pingPong(b, func(e events.Event) error { return bus.Publish(ctx, e) }, handled)
	})
}

// BenchmarkDrain is a route's delivery capacity: b.N events wait in a
// topic of 3 partitions (published before the timer starts, CloudEvents
// as the composer writes them), and a consumer group reads them all, from
// its start to the last event handled. The peers read the same messages
// in the same run: raw kafka-go committing after each message (how the
// composer's routes committed before partitions were handled in
// parallel), and franz-go committing after each poll.
func BenchmarkDrain(b *testing.B) {
	fill := func(b *testing.B) []string {
		brokers := benchCluster(b)
		w := rawWriter(brokers)
		defer w.Close()
		es := benchEvents(b.N)
		for i := 0; i < len(es); i += 1000 {
			var msgs []kafka.Message
			for _, e := range es[i:min(i+1000, len(es))] {
				msgs = append(msgs, Encode(e.Type, e))
			}
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
		}
		return brokers
	}
	idOf := func(headers []kafka.Header) string {
		for _, h := range headers {
			if h.Key == "ce_id" {
				return string(h.Value)
			}
		}
		return ""
	}
	run := func(b *testing.B, consume func(ctx context.Context, brokers []string, l *latencies)) {
		brokers := fill(b)
		l := newLatencies(b.N)
		now := time.Now()
		for i := range l.published {
			l.published[i] = now
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.ResetTimer()
		go consume(ctx, brokers, l)
		l.report(b)
	}
	b.Run("raw-kafka-go", func(b *testing.B) {
		run(b, func(ctx context.Context, brokers []string, l *latencies) {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "bench", Topic: "bench.created", StartOffset: kafka.FirstOffset,
				MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second})
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				l.handle(index(idOf(m.Headers)))
				if err := r.CommitMessages(ctx, m); err != nil {
					return
				}
			}
		})
	})
	b.Run("franz-go", func(b *testing.B) {
		run(b, func(ctx context.Context, brokers []string, l *latencies) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup("bench"), kgo.ConsumeTopics("bench.created"),
				kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Error(err)
				return
			}
			defer cl.Close()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					for _, h := range r.Headers {
						if h.Key == "ce_id" {
							l.handle(index(string(h.Value)))
						}
					}
				})
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					return
				}
			}
		})
	})
	b.Run("kafkabus", func(b *testing.B) {
		run(b, func(ctx context.Context, brokers []string, l *latencies) {
			bus := New(Config{Brokers: brokers, Group: "bench"})
			defer bus.Close()
			bus.Subscribe(ctx, events.Route{Name: "r", Topic: "bench.created", Handler: func(_ context.Context, e events.Event) error {
				l.handle(index(e.ID))
				return nil
			}})
		})
	})
}
