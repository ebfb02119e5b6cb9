package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tuskcompose/composer/internal/events"
)

// Tail calls fn with every new event of a topic (with fromBeginning, also
// those it has already), across all its partitions, until ctx ends or fn
// fails. It reads without a consumer group, so it changes no route's
// position. extra holds what a message says besides the event: the
// dead-letter headers, or "error" for a message that is not an event.
func (b *Bus) Tail(ctx context.Context, topic string, fromBeginning bool, fn func(e events.Event, extra map[string]string) error) error {
	start := kafka.LastOffset
	if fromBeginning {
		start = kafka.FirstOffset
	}
	return b.read(ctx, topic, start, 250*time.Millisecond, func(m kafka.Message) error {
		extra := map[string]string{}
		for _, h := range m.Headers {
			switch h.Key {
			case HeaderDeadLetterReason:
				extra["deadletterreason"] = string(h.Value)
			case HeaderDeadLetterRoute:
				extra["deadletterroute"] = string(h.Value)
			}
		}
		e, err := Decode(m)
		if err != nil {
			extra["error"] = err.Error()
			e = events.Event{ID: fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset), Type: m.Topic, Time: m.Time}
		}
		return fn(e, extra)
	})
}

// read calls fn with the messages of every partition of a topic from
// start (kafka.FirstOffset or kafka.LastOffset), without a consumer
// group, until ctx ends or fn fails; fn is called from one goroutine.
func (b *Bus) read(ctx context.Context, topic string, start int64, maxWait time.Duration, fn func(kafka.Message) error) error {
	parts, err := b.partitions(ctx, topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan kafka.Message)
	errc := make(chan error, len(parts))
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.cfg.Brokers, Topic: topic, Partition: p.ID, Dialer: b.dialer,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: maxWait})
		if err := r.SetOffset(start); err != nil {
			r.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					errc <- err
					return
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		case m := <-msgs:
			if err := fn(m); err != nil {
				return err
			}
		}
	}
}

// partitions lists a topic's partitions, asking the brokers in turn.
func (b *Bus) partitions(ctx context.Context, topic string) ([]kafka.Partition, error) {
	var errs []error
	for _, addr := range b.cfg.Brokers {
		conn, err := b.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parts, err := conn.ReadPartitions(topic)
		conn.Close()
		if err == nil {
			return parts, nil
		}
		if errors.Is(err, kafka.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("kafka: there is no topic %q", topic)
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("kafka: partitions of %s: %w", topic, errors.Join(errs...))
}
