// Package kafkabus is the Kafka event bus (segmentio/kafka-go): the same
// contract as the embedded bus (events.Bus), across composer instances.
//
//   - Publish writes an event to the topic named by its type, keyed by its
//     subject, and returns once every in-sync replica has it
//     (RequiredAcks: all).
//   - Subscribe runs a route as a consumer group named `<group>.<route>`,
//     so that the instances of a platform share a route's work and a
//     restarted instance resumes where the group left off. The partitions
//     an instance reads are handled in parallel, each in order. A
//     message's offset is committed only after the route handled it,
//     filtered it out or moved it to the dead-letter topic, in batches
//     (CommitBatch, CommitInterval): at least once, and a crash repeats
//     at most one batch per partition.
//   - A delivery that fails after the route's retries goes to the
//     route's dead-letter topic: the original message (key, value,
//     headers) with the reason and the route in headers.
//
// No I/O happens before the first call; brokers that are down make calls
// wait (Subscribe) or fail (Publish), and both work again once the brokers
// are back.
package kafkabus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/tuskcompose/composer/internal/events"
)

// Config is how the bus reaches and uses the cluster.
type Config struct {
	Brokers  []string
	ClientID string
	// Group prefixes the consumer groups: a route's group is
	// Group + "." + route name ([composer] name).
	Group string
	TLS   *tls.Config    // nil: plaintext
	SASL  sasl.Mechanism // nil: no authentication
	// AutoCreate creates the topics a route reads and writes (and those
	// given to EnsureTopics) with Partitions and ReplicationFactor when
	// they do not exist.
	AutoCreate        bool
	Partitions        int // default 3
	ReplicationFactor int // default 1
	// BatchSize and Linger bound how many messages a publish sends at
	// once and how long it waits for more (default 100 and 5 ms).
	BatchSize int
	Linger    time.Duration
	Log       *slog.Logger // nil: discarded
}

// Bus is a Kafka bus. It is safe for concurrent use.
type Bus struct {
	cfg       Config
	transport *kafka.Transport
	dialer    *kafka.Dialer
	writer    *kafka.Writer
	client    *kafka.Client
	log       *slog.Logger

	mu      sync.Mutex
	created map[string]bool // topics known to exist
	lags    map[lagKey]int64
}

type lagKey struct {
	group, topic string
	partition    int
}

// Lags returns, per consumer group, the messages its partitions had left
// to read after the last one it handled (the consumer lag).
func (b *Bus) Lags() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int64{}
	for k, v := range b.lags {
		out[k.group] += v
	}
	return out
}

// Defaults are the settings of a bus that sets nothing: the one place
// they are written (the platform's [events] defaults are these).
var Defaults = Config{AutoCreate: true, Partitions: 3, ReplicationFactor: 1, BatchSize: 100, Linger: 5 * time.Millisecond}

// New returns a bus for cfg. It connects lazily.
func New(cfg Config) *Bus {
	if cfg.Partitions <= 0 {
		cfg.Partitions = Defaults.Partitions
	}
	if cfg.ReplicationFactor <= 0 {
		cfg.ReplicationFactor = Defaults.ReplicationFactor
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = Defaults.BatchSize
	}
	if cfg.Linger <= 0 {
		cfg.Linger = Defaults.Linger
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "composer"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	transport := &kafka.Transport{
		ClientID:    cfg.ClientID,
		TLS:         cfg.TLS,
		SASL:        cfg.SASL,
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 10 * time.Second,
	}
	b := &Bus{
		cfg:       cfg,
		transport: transport,
		dialer: &kafka.Dialer{ClientID: cfg.ClientID, Timeout: 5 * time.Second, DualStack: true,
			TLS: cfg.TLS, SASLMechanism: cfg.SASL},
		client:  &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport},
		log:     log,
		created: map[string]bool{},
		lags:    map[lagKey]int64{},
	}
	b.writer = &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Murmur2Balancer{}, // the Java client's partitioner: same key, same partition
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              cfg.BatchSize,
		BatchTimeout:           cfg.Linger,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		ReadTimeout:            10 * time.Second,
		WriteTimeout:           10 * time.Second,
		AllowAutoTopicCreation: cfg.AutoCreate,
		Transport:              transport,
	}
	return b
}

// Close flushes and closes the publisher. Subscriptions end with their
// contexts.
func (b *Bus) Close() error {
	err := b.writer.Close()
	b.transport.CloseIdleConnections()
	return err
}

// Publish writes e to the topic e.Type.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	return b.PublishBatch(ctx, []events.Event{e})
}

// PublishBatch writes events, each to the topic of its type, in one
// request per partition. It returns nil only when the brokers have all of
// them; after an error some may have been written (and are written again
// by a retry: at least once).
func (b *Bus) PublishBatch(ctx context.Context, es []events.Event) error {
	if len(es) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(es))
	var topics []string
	for i, e := range es {
		msgs[i] = Encode(e.Type, e)
		topics = append(topics, e.Type)
	}
	if err := b.EnsureTopics(ctx, topics...); err != nil {
		return err
	}
	return b.write(ctx, msgs...)
}

func (b *Bus) write(ctx context.Context, msgs ...kafka.Message) error {
	err := b.writer.WriteMessages(ctx, msgs...)
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil {
				return fmt.Errorf("kafka: %d of %d messages not written: %w", werrs.Count(), len(msgs), e)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// EnsureTopics creates the topics that do not exist yet, when the bus
// creates topics (AutoCreate); otherwise it does nothing.
func (b *Bus) EnsureTopics(ctx context.Context, topics ...string) error {
	if !b.cfg.AutoCreate {
		return nil
	}
	var missing []kafka.TopicConfig
	asked := map[string]bool{}
	b.mu.Lock()
	for _, t := range topics {
		if !b.created[t] && !asked[t] {
			asked[t] = true
			missing = append(missing, kafka.TopicConfig{Topic: t, NumPartitions: b.cfg.Partitions, ReplicationFactor: b.cfg.ReplicationFactor})
		}
	}
	b.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	resp, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: missing})
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}
	for _, t := range missing {
		if terr := resp.Errors[t.Topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Topic, terr)
		}
	}
	b.mu.Lock()
	for _, t := range missing {
		b.created[t.Topic] = true
	}
	b.mu.Unlock()
	return nil
}

// Check opens a new connection to the brokers, one after the other, and
// asks for the cluster's brokers: nil when one answers. (A new connection
// each time: pooled ones and cached metadata would answer for a cluster
// that is gone.)
func (b *Bus) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	for _, addr := range b.cfg.Brokers {
		conn, err := b.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		brokers, err := conn.Brokers()
		conn.Close()
		if err == nil && len(brokers) > 0 {
			return nil
		}
		if err == nil {
			err = errors.New("no broker in the cluster's metadata")
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return fmt.Errorf("kafka: brokers %s: %w", strings.Join(b.cfg.Brokers, ", "), errors.Join(errs...))
}

// GroupOf returns the consumer group of a route.
func (b *Bus) GroupOf(route string) string { return b.cfg.Group + "." + route }

// Subscribe delivers the route's events until ctx ends (it then returns
// ctx's error): the route's consumer group reads the topic, each event
// goes through the route's filter and handler with its retries, and
// failed ones go to the dead-letter topic. The offset of a message is
// committed after that. A broken connection is retried, so Subscribe
// only returns when ctx ends.
func (b *Bus) Subscribe(ctx context.Context, r events.Route) error {
	if r.DeadLetter == "" {
		r.DeadLetter = r.Topic + ".dlq"
	}
	return b.consume(ctx, b.GroupOf(r.Name), []string{r.Topic}, []string{r.DeadLetter}, func(ctx context.Context, m kafka.Message) error {
		e, err := Decode(m)
		if err == nil {
			err = events.Deliver(ctx, r, e)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		b.log.Warn("event dead-lettered", "route", r.Name, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err.Error())
		if err := b.deadLetter(ctx, r, m, err); err != nil {
			return err
		}
		r.Note("dead_lettered")
		return nil
	})
}

// Project appends every event of topics to an event store (append is
// idempotent on the event id), under the consumer group group, until ctx
// ends. A message that is not an event is skipped and logged.
func (b *Bus) Project(ctx context.Context, group string, topics []string, appendEvent func(events.Event) error) error {
	return b.consume(ctx, group, topics, nil, func(ctx context.Context, m kafka.Message) error {
		e, err := Decode(m)
		if err != nil {
			b.log.Warn("not an event; left out of the event store", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err.Error())
			return nil
		}
		return retry(ctx, func() error { return appendEvent(e) })
	})
}

// consume runs handle on every message of topics, as the consumer group
// group, committing a message's offset once handle returned nil for it
// (dispatch). When handle fails (only because ctx ended, or the store
// failed), the message is not committed and is read again by whoever
// reads the partition next.
func (b *Bus) consume(ctx context.Context, group string, topics, alsoCreate []string, handle func(context.Context, kafka.Message) error) error {
	for {
		if err := retry(ctx, func() error { return b.EnsureTopics(ctx, append(topics, alsoCreate...)...) }); err != nil {
			return err
		}
		err := b.consumeOnce(ctx, group, topics, handle)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.Warn("kafka consumer restarting", "group", group, "err", err)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (b *Bus) consumeOnce(ctx context.Context, group string, topics []string, handle func(context.Context, kafka.Message) error) error {
	rc := kafka.ReaderConfig{
		Brokers:           b.cfg.Brokers,
		GroupID:           group,
		Dialer:            b.dialer,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
		StartOffset:       kafka.FirstOffset, // a new group reads every event kept
		CommitInterval:    0,                 // commits are synchronous
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			b.log.Debug("kafka reader: "+fmt.Sprintf(msg, args...), "group", group)
		}),
	}
	if len(topics) == 1 {
		rc.Topic = topics[0]
	} else {
		rc.GroupTopics = topics
	}
	reader := kafka.NewReader(rc)
	defer reader.Close()
	return b.dispatch(ctx, reader, group, handle)
}

// Committing: a partition's handled messages are committed together, at
// most CommitBatch of them or CommitInterval after the first, so that a
// crash repeats at most that batch on each partition.
const (
	CommitBatch    = 256
	CommitInterval = 100 * time.Millisecond
	// partitionQueue is how many fetched messages wait for a busy
	// partition's handler before fetching waits too.
	partitionQueue = 256
)

type partitionKey struct {
	topic     string
	partition int
}

// dispatch hands the reader's messages to one handler goroutine per
// partition, so that partitions are handled in parallel and each in its
// order (a key's, so an aggregate's, events stay in order), and commits
// what they handled in batches. It returns when ctx ends, fetching fails
// or a handler fails; what was handled by then is committed (the message
// a handler failed on is not, and is read again).
func (b *Bus) dispatch(ctx context.Context, reader *kafka.Reader, group string, handle func(context.Context, kafka.Message) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &committer{reader: reader, wake: make(chan struct{}, 1), handled: map[partitionKey]kafka.Message{}, counts: map[partitionKey]int{}}
	var wg sync.WaitGroup
	committed := make(chan error, 1)
	go func() { committed <- c.run(ctx) }()
	queues := map[partitionKey]chan kafka.Message{}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
		cancel(nil)
		if err := <-committed; err != nil {
			b.log.Warn("kafka commit", "group", group, "err", err)
		}
		// What the handlers finished after the last commit.
		fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer fcancel()
		c.commit(fctx)
	}()
	for {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				return cause // a handler or a commit failed
			}
			return err
		}
		k := partitionKey{m.Topic, m.Partition}
		q := queues[k]
		if q == nil {
			q = make(chan kafka.Message, partitionQueue)
			queues[k] = q
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := range q {
					if ctx.Err() != nil {
						continue // stopping: left for whoever reads next
					}
					if err := handle(ctx, m); err != nil {
						cancel(err)
						continue
					}
					c.done(m)
					b.mu.Lock()
					b.lags[lagKey{group, m.Topic, m.Partition}] = max(m.HighWaterMark-m.Offset-1, 0)
					b.mu.Unlock()
				}
			}()
		}
		select {
		case q <- m:
		case <-ctx.Done():
			if cause := context.Cause(ctx); cause != ctx.Err() {
				return cause
			}
			return ctx.Err()
		}
	}
}

// committer commits, for each partition, the last message its handler
// finished: every CommitInterval, or sooner when a partition has
// CommitBatch of them waiting.
type committer struct {
	reader *kafka.Reader
	wake   chan struct{}

	mu      sync.Mutex
	handled map[partitionKey]kafka.Message // the last finished, not committed
	counts  map[partitionKey]int           // finished since the last commit
}

// done records that m was handled (messages of a partition in order).
func (c *committer) done(m kafka.Message) {
	k := partitionKey{m.Topic, m.Partition}
	c.mu.Lock()
	c.handled[k] = m
	c.counts[k]++
	full := c.counts[k] >= CommitBatch
	c.mu.Unlock()
	if full {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// run commits until ctx ends; a failed commit ends it with the error.
func (c *committer) run(ctx context.Context) error {
	t := time.NewTicker(CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.wake:
		}
		if err := c.commit(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

// commit commits what was handled since the last commit. A message whose
// commit fails is committed with the next batch, or read again.
func (c *committer) commit(ctx context.Context) error {
	c.mu.Lock()
	if len(c.handled) == 0 {
		c.mu.Unlock()
		return nil
	}
	msgs := make([]kafka.Message, 0, len(c.handled))
	for _, m := range c.handled {
		msgs = append(msgs, m)
	}
	clear(c.handled)
	clear(c.counts)
	c.mu.Unlock()
	if err := c.reader.CommitMessages(ctx, msgs...); err != nil {
		c.mu.Lock()
		for _, m := range msgs {
			k := partitionKey{m.Topic, m.Partition}
			if _, newer := c.handled[k]; !newer {
				c.handled[k] = m
			}
		}
		c.mu.Unlock()
		return fmt.Errorf("commit %d partitions: %w", len(msgs), err)
	}
	return nil
}

// deadLetter writes the message to the route's dead-letter topic, with
// the reason and the route in headers, retrying until it is written or
// ctx ends.
func (b *Bus) deadLetter(ctx context.Context, r events.Route, m kafka.Message, reason error) error {
	headers := make([]kafka.Header, 0, len(m.Headers)+2)
	for _, h := range m.Headers {
		if h.Key != HeaderDeadLetterReason && h.Key != HeaderDeadLetterRoute {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kafka.Header{Key: HeaderDeadLetterReason, Value: []byte(reason.Error())},
		kafka.Header{Key: HeaderDeadLetterRoute, Value: []byte(r.Name)})
	dl := kafka.Message{Topic: r.DeadLetter, Key: m.Key, Value: m.Value, Headers: headers}
	return retry(ctx, func() error { return b.write(ctx, dl) })
}

// retry calls fn until it succeeds or ctx ends, waiting longer after each
// failure (up to 5 s).
func retry(ctx context.Context, fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var _ events.Bus = (*Bus)(nil)
