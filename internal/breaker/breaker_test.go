package breaker

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// clock is a test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// call makes one call with the given outcome; it reports whether the
// breaker let it through.
func call(b *Breaker, o Outcome) bool {
	t, _, ok := b.Allow()
	if ok {
		b.Done(t, o)
	}
	return ok
}

func TestConsecutiveFailuresOpen(t *testing.T) {
	c := newClock()
	var changes []string
	b := New(Settings{FailureThreshold: 3, RecoveryTimeout: 30 * time.Second}, c.now,
		func(from, to State) { changes = append(changes, from.String()+">"+to.String()) })
	call(b, Failure)
	call(b, Failure)
	call(b, Success) // resets the run
	call(b, Failure)
	call(b, Failure)
	if b.State() != Closed {
		t.Fatalf("state %v after 2 consecutive failures, want closed", b.State())
	}
	call(b, Failure)
	if b.State() != Open {
		t.Fatalf("state %v after 3 consecutive failures, want open", b.State())
	}
	_, retry, ok := b.Allow()
	if ok || retry != 30*time.Second {
		t.Errorf("open breaker: ok=%v retryAfter=%v, want refused with 30s", ok, retry)
	}
	c.advance(20 * time.Second)
	if _, retry, _ := b.Allow(); retry != 10*time.Second {
		t.Errorf("retryAfter %v after 20s, want 10s", retry)
	}
	if len(changes) != 1 || changes[0] != "closed>open" {
		t.Errorf("changes %v", changes)
	}
	if s := b.Snapshot(); s.Rejected != 2 || s.Failures != 5 || s.Successes != 1 {
		t.Errorf("stats %+v", s.Stats)
	}
}

func TestHalfOpenProbes(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second, HalfOpenMaxRequests: 2}, c.now, nil)
	call(b, Failure)
	c.advance(10 * time.Second)
	if b.State() != HalfOpen {
		t.Fatalf("state %v after the timeout, want half-open", b.State())
	}
	t1, _, ok1 := b.Allow()
	t2, _, ok2 := b.Allow()
	_, retry, ok3 := b.Allow()
	if !ok1 || !ok2 || ok3 || retry <= 0 {
		t.Fatalf("half-open let through %v %v %v (retry %v), want 2 probes and a refusal", ok1, ok2, ok3, retry)
	}
	b.Done(t1, Success)
	if b.State() != HalfOpen {
		t.Fatalf("closed after one of two probes")
	}
	b.Done(t2, Success)
	if b.State() != Closed {
		t.Fatalf("state %v after both probes succeeded, want closed", b.State())
	}
	// A failed probe reopens at once.
	call(b, Failure)
	c.advance(10 * time.Second)
	call(b, Failure)
	if b.State() != Open {
		t.Fatalf("state %v after a failed probe, want open", b.State())
	}
}

func TestWithoutHalfOpen(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureThreshold: 1, RecoveryTimeout: time.Second, NoHalfOpen: true}, c.now, nil)
	call(b, Failure)
	c.advance(time.Second)
	if b.State() != Closed {
		t.Fatalf("state %v after the timeout, want closed", b.State())
	}
	for range 3 {
		if !call(b, Success) {
			t.Fatal("a call was refused after the timeout")
		}
	}
}

func TestIgnoredProbeFreesItsPlace(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureThreshold: 1, RecoveryTimeout: time.Second}, c.now, nil)
	call(b, Failure)
	c.advance(time.Second)
	tk, _, ok := b.Allow()
	if !ok {
		t.Fatal("no probe")
	}
	b.Done(tk, Ignored)
	if !call(b, Success) || b.State() != Closed {
		t.Errorf("after an ignored probe: state %v, want another probe let through and closed", b.State())
	}
}

func TestFailureRatio(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureRatio: 0.5, MinimumRequests: 10, Window: 10 * time.Second}, c.now, nil)
	for range 4 { // 4 failures of 4: not enough requests yet
		call(b, Failure)
		call(b, Ignored) // counts as nothing
	}
	if b.State() != Closed {
		t.Fatal("opened below the minimum number of requests")
	}
	for range 5 {
		call(b, Success)
	}
	// 4 failures of 9, then one more: 5 of 10.
	call(b, Failure)
	if b.State() != Open {
		t.Fatalf("state %v at 5 failures of 10, want open", b.State())
	}
}

func TestWindowForgets(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureRatio: 0.5, MinimumRequests: 4, Window: 10 * time.Second}, c.now, nil)
	for range 3 {
		call(b, Failure)
	}
	c.advance(11 * time.Second) // those failures leave the window
	call(b, Failure)
	for range 3 {
		call(b, Success)
	}
	if s := b.Snapshot(); b.State() != Closed || s.WindowRequests != 4 || s.WindowFailures != 1 {
		t.Errorf("state %v, window %d/%d, want closed with 1 failure of 4", b.State(), s.WindowFailures, s.WindowRequests)
	}
}

func TestLateOutcomesOfAnOlderStateAreIgnored(t *testing.T) {
	c := newClock()
	b := New(Settings{FailureThreshold: 2, RecoveryTimeout: time.Second}, c.now, nil)
	slow, _, _ := b.Allow() // a call that takes a while
	call(b, Failure)
	call(b, Failure) // opens
	c.advance(time.Second)
	probe, _, _ := b.Allow() // half-open
	b.Done(slow, Failure)    // from the closed state: ignored
	if b.State() != HalfOpen {
		t.Fatalf("a late failure changed the state to %v", b.State())
	}
	b.Done(probe, Success)
	if b.State() != Closed {
		t.Errorf("state %v, want closed", b.State())
	}
}

// TestCallbackOutsideLock checks that a state-change callback may read the
// breaker (it would deadlock under the lock).
func TestCallbackOutsideLock(t *testing.T) {
	var b *Breaker
	seen := make(chan State, 4)
	b = New(Settings{FailureThreshold: 1}, nil, func(from, to State) { seen <- b.Snapshot().State })
	done := make(chan struct{})
	go func() {
		call(b, Failure)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback deadlocked")
	}
	if got := <-seen; got != Open {
		t.Errorf("callback saw %v, want open", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New(Settings{FailureThreshold: 5, FailureRatio: 0.9, MinimumRequests: 20, RecoveryTimeout: time.Millisecond}, nil, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				o := Success
				if (i+g)%3 == 0 {
					o = Failure
				}
				call(b, o)
			}
		}()
	}
	wg.Wait()
	s := b.Snapshot()
	if total := s.Successes + s.Failures + s.Ignored + s.Rejected; total != 16000 {
		t.Errorf("counted %d calls, want 16000", total)
	}
}

func TestClassify(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	tests := []struct {
		name   string
		status int
		err    error
		ctx    context.Context
		want   Outcome
	}{
		{"200", http.StatusOK, nil, live, Success},
		{"404 is the client's problem", http.StatusNotFound, nil, live, Success},
		{"429", http.StatusTooManyRequests, nil, live, Success},
		{"500", http.StatusInternalServerError, nil, live, Failure},
		{"503", http.StatusServiceUnavailable, nil, live, Failure},
		{"connection refused", 0, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), live, Failure},
		{"per-try timeout", 0, context.DeadlineExceeded, live, Failure},
		{"client went away", 0, context.Canceled, gone, Ignored},
		{"no caller context", 0, errors.New("eof"), nil, Failure},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.err, tt.ctx); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkAllowDone measures the cost a breaker adds to a call.
func BenchmarkAllowDone(b *testing.B) {
	br := New(Settings{FailureThreshold: 5, FailureRatio: 0.5, MinimumRequests: 20}, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		t, _, ok := br.Allow()
		if ok {
			br.Done(t, Success)
		}
	}
}

// BenchmarkAllowDoneParallel is the same from every processor at once.
func BenchmarkAllowDoneParallel(b *testing.B) {
	br := New(Settings{FailureThreshold: 5, FailureRatio: 0.5, MinimumRequests: 20}, nil, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, _, ok := br.Allow()
			if ok {
				br.Done(t, Success)
			}
		}
	})
}

// BenchmarkGobreakerPeer is sony/gobreaker's two-step breaker doing the
// same work, the peer the figures in docs/benchmarks.md compare with.
func BenchmarkGobreakerPeer(b *testing.B) {
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
	})
	b.ReportAllocs()
	for b.Loop() {
		done, err := cb.Allow()
		if err == nil {
			done(nil)
		}
	}
}

// TestSlowCalls: slow calls open the breaker at slow_call_ratio over the
// window, whatever their outcome, and a slow probe opens it again.
func TestSlowCalls(t *testing.T) {
	c := newClock()
	b := New(Settings{SlowCallDuration: 100 * time.Millisecond, SlowCallRatio: 0.5, MinimumRequests: 4,
		Window: 10 * time.Second, RecoveryTimeout: time.Second}, c.now, nil)
	call := func(took time.Duration, o Outcome) {
		t.Helper()
		tk, _, ok := b.Allow()
		if !ok {
			t.Fatal("refused")
		}
		c.advance(took)
		b.Done(tk, o)
	}
	call(10*time.Millisecond, Success)
	call(150*time.Millisecond, Success) // slow, though it succeeded
	call(10*time.Millisecond, Success)
	if b.State() != Closed {
		t.Fatal("opened before minimum_requests")
	}
	call(200*time.Millisecond, Success) // 2 slow of 4: the ratio
	if b.State() != Open {
		t.Fatalf("state %v after half the calls were slow", b.State())
	}
	c.advance(time.Second)
	if b.State() != HalfOpen {
		t.Fatalf("state %v after the recovery timeout", b.State())
	}
	call(300*time.Millisecond, Success) // a slow probe
	if b.State() != Open {
		t.Errorf("state %v after a slow probe", b.State())
	}
	c.advance(time.Second)
	call(time.Millisecond, Success)
	if b.State() != Closed {
		t.Errorf("state %v after a quick probe", b.State())
	}
}

func BenchmarkAllowDoneSlowCalls(b *testing.B) {
	br := New(Settings{FailureThreshold: 5, SlowCallDuration: time.Second, SlowCallRatio: 0.5, MinimumRequests: 20}, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		t, _, _ := br.Allow()
		br.Done(t, Success)
	}
}
