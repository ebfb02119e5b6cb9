package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
)

// harness drives a checker probe by probe: the probe's results come from a
// script, ticks let the next probe run, and every result is reported.
type harness struct {
	ticks   chan time.Time
	results chan balancer.Health
	in      *balancer.Instance
	c       *Checker
}

func start(t *testing.T, s Settings, probe Probe) *harness {
	t.Helper()
	h := &harness{ticks: make(chan time.Time), results: make(chan balancer.Health, 1), in: balancer.NewInstance("http://127.0.0.1:1")}
	h.c = New(s, probe)
	h.c.after = func(time.Duration) <-chan time.Time { return h.ticks }
	h.c.observe = func(_ *balancer.Instance, _ error, now balancer.Health) { h.results <- now }
	h.c.Start(context.Background(), []*balancer.Instance{h.in})
	t.Cleanup(h.c.Stop)
	return h
}

// next waits for the next probe's result and lets the one after it run.
func (h *harness) next(t *testing.T) balancer.Health {
	t.Helper()
	select {
	case got := <-h.results:
		go func() {
			select {
			case h.ticks <- time.Time{}:
			case <-time.After(5 * time.Second): // the checker was stopped
			}
		}()
		return got
	case <-time.After(5 * time.Second):
		t.Fatal("no probe")
		return 0
	}
}

func scripted(results ...bool) Probe {
	var i atomic.Int32
	return func(context.Context, *balancer.Instance) error {
		n := int(i.Add(1)) - 1
		if n < len(results) && results[n] {
			return nil
		}
		return errors.New("down")
	}
}

func TestThresholdsBothWays(t *testing.T) {
	// pass, fail, fail, fail, pass, pass
	h := start(t, Settings{Retries: 3, HealthyThreshold: 2}, scripted(true, false, false, false, true, true))
	want := []balancer.Health{
		balancer.Healthy,   // the first probe runs at once; one pass makes an unknown instance healthy
		balancer.Healthy,   // one failure is not enough
		balancer.Healthy,   // two neither
		balancer.Unhealthy, // the third is
		balancer.Unhealthy, // one pass is not enough to come back
		balancer.Healthy,   // two are
	}
	for i, w := range want {
		if got := h.next(t); got != w {
			t.Fatalf("after probe %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestUnknownUntilDecided(t *testing.T) {
	h := start(t, Settings{Retries: 2}, scripted(false, false))
	if got := h.next(t); got != balancer.Unknown {
		t.Fatalf("after one failure: %v, want still unknown", got)
	}
	if got := h.next(t); got != balancer.Unhealthy {
		t.Fatalf("after two failures: %v, want unhealthy", got)
	}
}

func TestProbeTimeout(t *testing.T) {
	slow := func(ctx context.Context, _ *balancer.Instance) error {
		<-ctx.Done()
		return ctx.Err()
	}
	h := start(t, Settings{Retries: 1, Timeout: 10 * time.Millisecond}, slow)
	if got := h.next(t); got != balancer.Unhealthy {
		t.Fatalf("a probe that timed out left %v", got)
	}
}

func TestHTTPProbe(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	in := balancer.NewInstance(srv.URL)
	probe := HTTPProbe(srv.Client(), "/health")
	if err := probe(context.Background(), in); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := probe(context.Background(), in); err == nil {
		t.Fatal("a 503 passed")
	}
	srv.Close()
	if err := probe(context.Background(), in); err == nil {
		t.Fatal("a closed server passed")
	}
}

func TestStopEndsProbes(t *testing.T) {
	var probes atomic.Int32
	c := New(Settings{Interval: time.Hour}, func(context.Context, *balancer.Instance) error { probes.Add(1); return nil })
	ins := []*balancer.Instance{balancer.NewInstance("a"), balancer.NewInstance("b")}
	c.Start(context.Background(), ins)
	c.Stop() // waits for the goroutines; must not hang on the hour-long wait
	if n := probes.Load(); n > 2 {
		t.Errorf("%d probes, want at most the first one per instance", n)
	}
}

// TestStartPeriod: an instance that never passes is probed every
// start_interval during start_period, then every interval (not ten times
// a second for ever).
func TestStartPeriod(t *testing.T) {
	waits := make(chan time.Duration, 64)
	c := New(Settings{Interval: 5 * time.Second, StartInterval: 100 * time.Millisecond, StartPeriod: 450 * time.Millisecond, Retries: 1},
		func(context.Context, *balancer.Instance) error { return errors.New("down") })
	c.after = func(d time.Duration) <-chan time.Time {
		select {
		case waits <- d:
		default: // the test has what it reads; a blocked send would keep Stop waiting
		}
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	c.Start(context.Background(), []*balancer.Instance{balancer.NewInstance("http://127.0.0.1:1")})
	var got []time.Duration
	for len(got) < 8 {
		got = append(got, <-waits)
	}
	c.Stop()
	want := []time.Duration{100, 100, 100, 100, 100, 5000, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
}
