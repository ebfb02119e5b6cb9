package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureCompacted creates a compacted topic (cleanup.policy=compact: the
// last record of each key is kept) when it does not exist and the bus
// creates topics; otherwise it does nothing.
func (b *Bus) EnsureCompacted(ctx context.Context, topic string) error {
	if !b.cfg.AutoCreate {
		return nil
	}
	b.mu.Lock()
	done := b.created[topic]
	b.mu.Unlock()
	if done {
		return nil
	}
	resp, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic,
		NumPartitions: 1, ReplicationFactor: b.cfg.ReplicationFactor,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}}}})
	if err != nil {
		return fmt.Errorf("kafka: create topic %s: %w", topic, err)
	}
	if terr := resp.Errors[topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
		return fmt.Errorf("kafka: create topic %s: %w", topic, terr)
	}
	b.mu.Lock()
	b.created[topic] = true
	b.mu.Unlock()
	return nil
}

// WriteRecords writes keyed records (a nil Value is a tombstone) to their
// topics.
func (b *Bus) WriteRecords(ctx context.Context, msgs ...kafka.Message) error {
	return b.write(ctx, msgs...)
}

// ReadRecords calls fn with every record of a topic from its beginning,
// then with each new one, across its partitions, without a consumer group,
// until ctx ends or fn fails.
func (b *Bus) ReadRecords(ctx context.Context, topic string, fn func(kafka.Message) error) error {
	return b.read(ctx, topic, kafka.FirstOffset, 100*time.Millisecond, fn)
}
