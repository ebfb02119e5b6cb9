package runner

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/kafkabus"
)

// KafkaConfig is the Kafka bus of a platform: [events], with the
// consumer groups named after [composer] name. The SASL password is read
// from the platform (the resolved bus keeps only its digest).
func KafkaConfig(p *composer.Platform, log *slog.Logger) (kafkabus.Config, error) {
	return kafkaConfig(composer.Resolve(p, nil).Bus, p.Events.SASL.Password, log)
}

func kafkaConfig(e composer.BusSettings, password composer.Secret, log *slog.Logger) (kafkabus.Config, error) {
	cfg := kafkabus.Config{
		Brokers: e.Brokers, ClientID: e.ClientID, Group: e.Group,
		AutoCreate: e.Topics.AutoCreate, Partitions: e.Topics.Partitions, ReplicationFactor: e.Topics.ReplicationFactor,
		BatchSize: e.BatchSize, Linger: e.Linger, Log: log,
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
		m, err := kafkabus.Mechanism(e.SASL.Mechanism, e.SASL.Username, string(password))
		if err != nil {
			return cfg, err
		}
		cfg.SASL = m
	}
	return cfg, nil
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
				r.log.Info("event bus reachable", "brokers", r.gen().model.Bus.Brokers)
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
			err = r.setNode(n)
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

// project (re)starts the consumer that appends the platform's events to
// this instance's event store, when its topics changed. Its consumer
// group is this instance's own (`<name>.store.<instance id>`), so every
// instance keeps every event. Called with reloadMu held.
func (r *Runner) project(m *composer.Resolved) {
	topics := composer.ProjectionTopics(m)
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
		r.kafka.Project(ctx, m.Bus.Group+".store."+id, topics, func(e events.Event) error {
			_, err := r.store.Append(e) // the projectors take it from there
			return err
		})
	}()
}
