package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// ClaimNode gives an instance a number no other instance of the platform
// has, and none ever will: the offset (+1) at which its claim lands in
// the topic Group + ".nodes", a topic of one partition whose offsets only
// grow. An instance claims once and keeps its number (in its store), so
// the numbers are as many as the data directories the platform has ever
// had. The topic must not be deleted: a new one would give the numbers
// again. With AutoCreate, ClaimNode creates it (compacted, one partition).
func (b *Bus) ClaimNode(ctx context.Context, instance string) (uint64, error) {
	topic := b.cfg.Group + ".nodes"
	if b.cfg.AutoCreate {
		resp, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: 1, ReplicationFactor: b.cfg.ReplicationFactor,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
		}}})
		if err != nil {
			return 0, fmt.Errorf("kafka: create topic %s: %w", topic, err)
		}
		if terr := resp.Errors[topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return 0, fmt.Errorf("kafka: create topic %s: %w", topic, terr)
		}
	}
	resp, err := b.client.Produce(ctx, &kafka.ProduceRequest{
		Topic: topic, Partition: 0, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Time: time.Now(), Key: kafka.NewBytes([]byte(instance)),
			Value: kafka.NewBytes([]byte(fmt.Sprintf(`{"instance":%q}`, instance)))}),
	})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return 0, fmt.Errorf("kafka: claim a node number on %s: %w", topic, err)
	}
	return uint64(resp.BaseOffset) + 1, nil
}
