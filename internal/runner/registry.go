package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/registry"
)

// openRegistry makes the runner's registry: instances of the services
// with discovery: "registry" register through it (its Consul-shaped API
// on the admin address); each change is kept in the store, and what the
// store kept is read back (its ttl checks must beat again). Called by New.
func (r *Runner) openRegistry() error {
	r.registry = registry.New()
	r.registry.Known = func() []string {
		var out []string
		if g := r.gen(); g != nil {
			for name, s := range g.model.Services {
				if s.Discovery == "registry" {
					out = append(out, name)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	err := r.store.Registrations(func(id string, data []byte) error {
		var in registry.Instance
		if err := json.Unmarshal(data, &in); err != nil {
			r.log.Warn("a kept registration does not read; it is dropped", "id", id, "err", err)
			return nil
		}
		r.registry.Restore(&in)
		return nil
	})
	if r.kafka != nil {
		r.regPending, r.regWake = map[string]registryRecord{}, make(chan struct{}, 1)
		r.registry.Replicated = r.queueRecord
	}
	r.registry.Probe = r.probeRegistered
	r.registry.Saved = func(id string, in *registry.Instance) {
		var data []byte
		if in != nil {
			data, _ = json.Marshal(in)
		}
		if err := r.store.PutRegistration(id, data); err != nil {
			r.log.Error("a registration is not kept in the store", "id", id, "err", err)
		}
	}
	return err
}

// registeredURLs are the passing registered instances of a platform's
// registry services, by service, in order.
func (r *Runner) registeredURLs(model *composer.Resolved) map[string][]string {
	out := map[string][]string{}
	for name, s := range model.Services {
		if s.Discovery != "registry" {
			continue
		}
		instances, _ := r.registry.Service(name, true)
		for _, in := range instances {
			out[name] = append(out[name], in.URL())
		}
	}
	return out
}

// Registry serves the registry's Consul-shaped API (admin.Platform).
func (r *Runner) Registry() http.Handler { return r.registry.Handler() }

// watchRegistry reaps the registry's ttl checks every second and, at each
// change of the passing instances, swaps in a generation with them: the
// plan of that change (instances added and removed, a balancer over them,
// health checks of the new) carried out as a reload would, without
// reading the file. It returns when the runner stops.
func (r *Runner) watchRegistry() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		changed := r.registry.Changed()
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
			r.registry.Reap() // its change is seen here, not on the next channel
		case <-changed:
		}
		r.syncRegistry()
	}
}

// syncRegistry swaps in the running platform with the registry's passing
// instances, when they differ from its own.
func (r *Runner) syncRegistry() {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	select {
	case <-r.stopping:
		return // Stop has the platform: no generation after it
	default:
	}
	cur := r.gen()
	next := cur.model.WithRegistered(r.registeredURLs(cur.model))
	if next == cur.model {
		return
	}
	acts := composer.Diff(cur.model, next)
	if err := r.swap(next, cur.files, cur, acts); err != nil {
		r.log.Error("the registry's change is not applied", "err", err)
		return
	}
	r.log.Info("registry change applied", "generation", r.gen().number, "actions", len(acts))
}

// registryRecord is one registry change waiting to be written to Kafka.
type registryRecord struct {
	value []byte // nil: a tombstone
	stamp time.Time
}

// registryTopic is the compacted topic the composers of one platform
// share their registries on.
func registryTopic(model *composer.Resolved) string { return model.Bus.Group + ".registry" }

// replicateRegistry (bus: "kafka") shares the registry with the other
// composers of the platform: every change and heartbeat here is written,
// keyed by the instance's id, to the compacted topic <name>.registry, and
// every record there from another composer is applied (the later stamp
// wins), so that an instance registered with one composer is balanced by
// all of them and a heartbeat refreshes its TTL everywhere. It returns
// when the runner stops.
func (r *Runner) replicateRegistry() {
	topic := registryTopic(r.gen().model)
	origin, err := r.store.InstanceID()
	if err != nil {
		r.log.Error("the registry is not shared: no instance id", "err", err)
		return
	}
	for r.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		err = r.kafka.EnsureCompacted(ctx, topic)
		cancel()
		if err == nil {
			break
		}
		r.log.Warn("the registry's topic is not there yet", "topic", topic, "err", err)
		sleepCtx(r.ctx, time.Second)
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.writeRegistry(topic, origin)
	}()
	for r.ctx.Err() == nil {
		err := r.kafka.ReadRecords(r.ctx, topic, func(m kafka.Message) error {
			var from, stampText string
			for _, h := range m.Headers {
				switch h.Key {
				case "origin":
					from = string(h.Value)
				case "stamp":
					stampText = string(h.Value)
				}
			}
			if from == origin {
				return nil // this composer's own
			}
			stamp, err := time.Parse(time.RFC3339Nano, stampText)
			if err != nil {
				r.log.Warn("a registry record without a stamp is skipped", "key", string(m.Key))
				return nil
			}
			if m.Value == nil {
				r.registry.Apply(string(m.Key), nil, stamp)
				return nil
			}
			var in registry.Instance
			if err := json.Unmarshal(m.Value, &in); err != nil {
				r.log.Warn("a registry record does not read", "key", string(m.Key), "err", err)
				return nil
			}
			r.registry.Apply(string(m.Key), &in, stamp)
			return nil
		})
		if r.ctx.Err() == nil {
			r.log.Warn("reading the registry's topic", "topic", topic, "err", err)
			sleepCtx(r.ctx, time.Second)
		}
	}
}

// queueRecord keeps the newest change of an instance for writeRegistry.
// Called with the registry's lock held (Registry.Replicated): it only
// encodes and queues.
func (r *Runner) queueRecord(id string, in *registry.Instance, stamp time.Time) {
	rec := registryRecord{stamp: stamp}
	if in != nil {
		rec.value, _ = json.Marshal(in)
	}
	r.regMu.Lock()
	r.regPending[id] = rec
	r.regMu.Unlock()
	select {
	case r.regWake <- struct{}{}:
	default:
	}
}

// writeRegistry writes the queued changes, the newest of each instance,
// until the runner stops; a write that fails is tried again a second
// later with what has queued since.
func (r *Runner) writeRegistry(topic, origin string) {
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.regWake:
		}
		r.regMu.Lock()
		pending := r.regPending
		r.regPending = map[string]registryRecord{}
		r.regMu.Unlock()
		msgs := make([]kafka.Message, 0, len(pending))
		for id, rec := range pending {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(id), Value: rec.value,
				Headers: []kafka.Header{{Key: "origin", Value: []byte(origin)}, {Key: "stamp", Value: []byte(rec.stamp.Format(time.RFC3339Nano))}}})
		}
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		err := r.kafka.WriteRecords(ctx, msgs...)
		cancel()
		if err != nil && r.ctx.Err() == nil {
			r.log.Warn("the registry's changes are not written yet", "topic", topic, "err", err)
			r.regMu.Lock()
			for id, rec := range pending {
				if newer, ok := r.regPending[id]; !ok || newer.stamp.Before(rec.stamp) {
					r.regPending[id] = rec
				}
			}
			r.regMu.Unlock()
			sleepCtx(r.ctx, time.Second)
			select {
			case r.regWake <- struct{}{}:
			default:
			}
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// probeRegistered runs a registration's http, grpc or tcp check once, as
// Consul's agent would: http passes on a 2xx answer to a GET of its URL,
// tcp when a connection opens, grpc when grpc.health.v1 says SERVING
// ("host:port", or "host:port/service" to ask about one service). The
// registrants are the admin API's callers (loopback, or holders of the
// admin token), so the targets they name are theirs to choose.
func (r *Runner) probeRegistered(ctx context.Context, kind, target string) error {
	switch kind {
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := registryProbeClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("HTTP GET %s: %s", target, resp.Status)
		}
		return nil
	case "tcp":
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
		if err != nil {
			return err
		}
		return conn.Close()
	case "grpc":
		addr, service, _ := strings.Cut(target, "/")
		probe := health.GRPCProbe(&http.Client{Transport: gateway.NewH2CTransport(0)}, service)
		return probe(ctx, balancer.NewInstance("http://"+addr))
	}
	return fmt.Errorf("no %s checks", kind)
}

// registryProbeClient makes the registrations' http checks: no redirects
// followed, no idle connections kept.
var registryProbeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
