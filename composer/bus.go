package composer

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/services"
)

// KafkaConfig is the Kafka bus of a platform: [events], with the
// consumer groups named after [composer] name.
func KafkaConfig(p *Platform, log *slog.Logger) (kafkabus.Config, error) {
	e := p.Events
	cfg := kafkabus.Config{
		Brokers: e.Brokers, ClientID: e.ClientID, Group: p.Composer.Name,
		AutoCreate: e.Topics.AutoCreate, Partitions: e.Topics.Partitions, ReplicationFactor: e.Topics.ReplicationFactor,
		BatchSize: e.BatchSize, Linger: e.Linger, Log: log,
	}
	if cfg.ClientID == "" {
		cfg.ClientID = p.Composer.Name
	}
	if e.TLS.Enabled || e.TLS.CAFile != "" || e.TLS.CertFile != "" {
		tlsCfg, err := kafkabus.TLSFiles{CAFile: e.TLS.CAFile, CertFile: e.TLS.CertFile, KeyFile: e.TLS.KeyFile,
			ServerName: e.TLS.ServerName, InsecureSkipVerify: e.TLS.InsecureSkipVerify}.Config()
		if err != nil {
			return cfg, err
		}
		cfg.TLS = tlsCfg
	}
	if e.SASL.Mechanism != "" {
		m, err := kafkabus.Mechanism(e.SASL.Mechanism, e.SASL.Username, string(e.SASL.Password))
		if err != nil {
			return cfg, err
		}
		cfg.SASL = m
	}
	return cfg, nil
}

// sameBus says whether two platforms have the same bus: everything of
// [events] but the retry defaults, and the name that prefixes the
// consumer groups.
func sameBus(a, b *Platform) bool {
	ea, eb := a.Events, b.Events
	ea.Retry, eb.Retry = Retry{}, Retry{}
	return a.Composer.Name == b.Composer.Name && reflect.DeepEqual(ea, eb)
}

// watchBus checks every two seconds that the Kafka brokers answer, for
// /readyz and /v1/status, and logs each change.
func (r *Runner) watchBus() {
	for {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		err := r.kafka.Check(ctx)
		cancel()
		if r.ctx.Err() != nil {
			return
		}
		st := BusState{Kind: "kafka", State: "ok", Checked: time.Now().UTC()}
		if err != nil {
			st.State, st.Error = "degraded", err.Error()
		}
		if prev := r.busOK.Swap(&st); prev.State != st.State {
			if err != nil {
				r.log.Warn("event bus degraded: events wait in the outbox", "err", err)
			} else {
				r.log.Info("event bus reachable", "brokers", r.gen().platform.Events.Brokers)
			}
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// claimNode gives this instance its id range on a platform of several
// instances (kafkabus.ClaimNode), once: the store keeps it. Until then,
// the built-in services answer 503 to creations. It tries for a few
// seconds before Start returns, then in the background until it succeeds.
func (r *Runner) claimNode() {
	if _, ok, err := r.store.Node(); ok || err != nil {
		return
	}
	claim := func(timeout time.Duration) bool {
		ctx, cancel := context.WithTimeout(r.ctx, timeout)
		defer cancel()
		id, err := r.store.InstanceID()
		if err != nil {
			r.log.Error("no instance id", "err", err)
			return false
		}
		n, err := r.kafka.ClaimNode(ctx, id)
		if err == nil {
			err = r.store.SetNode(n)
		}
		if err != nil {
			r.log.Warn("no id range yet: users and orders cannot be created until the brokers answer", "err", err)
			return false
		}
		r.log.Info("id range claimed", "node", n)
		return true
	}
	if claim(5 * time.Second) {
		return
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		for !claim(5 * time.Second) {
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
}

// projectionTopics are the topics whose events the event store keeps:
// those the built-in services publish and those the event routes read.
func projectionTopics(p *Platform) []string {
	topics := []string{services.EventUserCreated, services.EventOrderCreated, services.EventOrderStatusChanged}
	for _, er := range p.EventRoutes {
		topics = append(topics, er.Topic)
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// project (re)starts the consumer that appends the platform's events to
// this instance's event store, when its topics changed. Its consumer
// group is this instance's own (`<name>.store.<instance id>`), so every
// instance keeps every event. Called with reloadMu held.
func (r *Runner) project(p *Platform) {
	topics := projectionTopics(p)
	if slices.Equal(topics, r.projection.topics) {
		return
	}
	if r.projection.cancel != nil {
		r.projection.cancel()
		<-r.projection.done
	}
	id, err := r.store.InstanceID()
	if err != nil {
		r.log.Error("event store: no instance id; events from Kafka are not kept", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	r.projection.topics, r.projection.cancel, r.projection.done = topics, cancel, done
	go func() {
		defer close(done)
		r.kafka.Project(ctx, p.Composer.Name+".store."+id, topics, func(e events.Event) error {
			_, err := r.store.Project(e, services.Apply)
			return err
		})
	}()
}
