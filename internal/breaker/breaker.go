// Package breaker is the circuit breaker that guards every outbound call of
// the composer: closed, open, half-open.
//
// A breaker opens after FailureThreshold consecutive failures, or when the
// failure ratio over the last Window reaches FailureRatio with at least
// MinimumRequests requests. Open, it refuses calls and says when to retry;
// after RecoveryTimeout it lets HalfOpenMaxRequests probes through, closes
// again when they all succeed and reopens on the first failure.
//
// Why not sony/gobreaker, the library the design names: it calls its
// state-change callback while holding its lock (so a callback that reads
// the breaker deadlocks), it reads time.Now itself (so tests must sleep),
// and it does not say when an open breaker will let a probe through (which
// Retry-After needs). This package does all three, without allocating on
// the call path.
package breaker

import (
	"context"
	"sync"
	"time"
)

// State is a breaker's state.
type State uint8

// The states of a breaker.
const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Outcome is what a call's result means to the breaker.
type Outcome uint8

// The outcomes of a call.
const (
	Success Outcome = iota // counts as a success (2xx-4xx answers)
	Failure                // counts as a failure (5xx, timeouts, connection errors)
	Ignored                // counts as nothing (the client gave up)
)

// Settings configure a breaker. Zero values turn a rule off; at least one
// of FailureThreshold and FailureRatio should be set.
// The JSON names are the platform file's keys.
type Settings struct {
	FailureThreshold    int           `json:"failure_threshold"`      // consecutive failures that open the breaker
	FailureRatio        float64       `json:"failure_ratio"`          // failures / requests over Window that open it (0 < r <= 1)
	Window              time.Duration `json:"window"`                 // the ratio's window, rolling
	MinimumRequests     int           `json:"minimum_requests"`       // requests in the window before the ratio applies
	RecoveryTimeout     time.Duration `json:"recovery_timeout"`       // time open before probing
	HalfOpenMaxRequests int           `json:"half_open_max_requests"` // probes in half-open; that many successes close
	// NoHalfOpen skips the half-open state: after RecoveryTimeout the
	// breaker closes and lets every call through (half_open_state: false).
	NoHalfOpen bool `json:"no_half_open"`
	// Slow calls (resilience4j): a call that takes SlowCallDuration or
	// longer, whatever its outcome, is slow; SlowCallRatio of slow calls
	// over Window (after MinimumRequests) opens the breaker, and a slow
	// probe opens it again. Zero turns the rule off.
	SlowCallDuration time.Duration `json:"slow_call_duration"`
	SlowCallRatio    float64       `json:"slow_call_ratio"`
}

// Defaults are the settings of a breaker that sets nothing but its
// threshold: the one place they are written (the platform's
// [circuit_breaker] defaults are these; 5 and 30 s are the seed's).
var Defaults = Settings{FailureThreshold: 5, Window: 10 * time.Second, RecoveryTimeout: 30 * time.Second, HalfOpenMaxRequests: 1}

// buckets is the number of slices of the ratio's window.
const buckets = 10

type bucket struct {
	start                    int64 // unix nanoseconds of the bucket's start
	requests, failures, slow int
}

// Breaker is a circuit breaker. Its methods may be called from many
// goroutines; the state-change callback runs outside the breaker's lock.
// A nil *Breaker is a breaker turned off: Allow lets every call through
// and Done does nothing.
type Breaker struct {
	settings Settings
	now      func() time.Time
	onChange func(from, to State)

	mu          sync.Mutex
	state       State
	generation  uint64 // bumped on every state change; tickets of older ones are ignored
	consecutive int    // consecutive failures while closed
	window      [buckets]bucket
	openUntil   time.Time
	probes      int // half-open: probes let through
	successes   int // half-open: probes that succeeded
	stats       Stats
}

// Stats counts what a breaker has seen, for the admin API and metrics.
type Stats struct {
	Successes, Failures, Ignored, Rejected uint64
	Transitions                            uint64
}

// Snapshot is a breaker's state at one moment.
type Snapshot struct {
	State               State
	ConsecutiveFailures int
	WindowRequests      int
	WindowFailures      int
	WindowSlow          int           // slow calls in the window
	RetryAfter          time.Duration // while open
	Stats
}

// Ticket stands for one call let through by Allow; pass it to Done.
type Ticket struct {
	generation uint64
	halfOpen   bool
	start      int64 // unix nanoseconds, when slow calls are counted
}

// New returns a closed breaker. now is its clock (nil: time.Now);
// onChange, when not nil, is called after every state change, outside the
// breaker's lock, in the goroutine that caused it.
func New(s Settings, now func() time.Time, onChange func(from, to State)) *Breaker {
	if s.Window <= 0 {
		s.Window = Defaults.Window
	}
	if s.RecoveryTimeout <= 0 {
		s.RecoveryTimeout = Defaults.RecoveryTimeout
	}
	if s.HalfOpenMaxRequests <= 0 {
		s.HalfOpenMaxRequests = Defaults.HalfOpenMaxRequests
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{settings: s, now: now, onChange: onChange}
}

// Settings returns the breaker's settings, defaults filled in.
func (b *Breaker) Settings() Settings { return b.settings }

// Allow asks to make a call. When the breaker refuses, ok is false and
// retryAfter says how long until it lets a probe through (at least a
// second's fraction, never zero).
func (b *Breaker) Allow() (t Ticket, retryAfter time.Duration, ok bool) {
	if b == nil {
		return Ticket{}, 0, true // no breaker: every call goes
	}
	now := b.now()
	b.mu.Lock()
	c := b.advance(now)
	switch b.state {
	case Open:
		b.stats.Rejected++
		retryAfter = max(b.openUntil.Sub(now), time.Millisecond)
	case HalfOpen:
		if b.probes >= b.settings.HalfOpenMaxRequests {
			b.stats.Rejected++
			// The probes decide soon; a client may try again shortly.
			retryAfter = time.Second
		} else {
			b.probes++
			t, ok = Ticket{generation: b.generation, halfOpen: true}, true
		}
	default:
		t, ok = Ticket{generation: b.generation}, true
	}
	if ok && b.settings.SlowCallDuration > 0 {
		t.start = now.UnixNano()
	}
	b.mu.Unlock()
	b.notify(c)
	return t, retryAfter, ok
}

// Done records the outcome of a call that Allow let through. Outcomes of
// calls let through before the last state change are not counted.
func (b *Breaker) Done(t Ticket, o Outcome) {
	if b == nil {
		return
	}
	now := b.now()
	b.mu.Lock()
	switch o {
	case Success:
		b.stats.Successes++
	case Failure:
		b.stats.Failures++
	default:
		b.stats.Ignored++
	}
	slow := t.start != 0 && o != Ignored && now.UnixNano()-t.start >= int64(b.settings.SlowCallDuration)
	var c change
	switch {
	case t.generation != b.generation:
	case o == Ignored:
		if t.halfOpen {
			b.probes-- // an ignored probe frees its place
		}
	case t.halfOpen:
		c = b.probeDone(o, slow, now)
	default:
		c = b.closedDone(o, slow, now)
	}
	b.mu.Unlock()
	b.notify(c)
}

// change is a state change, made under the lock and announced after it.
type change struct {
	from, to State
	ok       bool
}

// closedDone counts an outcome while closed. Called with b.mu held.
func (b *Breaker) closedDone(o Outcome, slow bool, now time.Time) change {
	bk := b.bucket(now)
	bk.requests++
	s := b.settings
	if slow {
		bk.slow++
		if s.SlowCallRatio > 0 {
			requests, _, slowCalls := b.windowCounts(now)
			if requests >= max(s.MinimumRequests, 1) && float64(slowCalls) >= s.SlowCallRatio*float64(requests) {
				return b.set(Open, now)
			}
		}
	}
	if o == Success {
		b.consecutive = 0
		return change{}
	}
	bk.failures++
	b.consecutive++
	trip := s.FailureThreshold > 0 && b.consecutive >= s.FailureThreshold
	if !trip && s.FailureRatio > 0 {
		requests, failures, _ := b.windowCounts(now)
		trip = requests >= max(s.MinimumRequests, 1) && float64(failures) >= s.FailureRatio*float64(requests)
	}
	if trip {
		return b.set(Open, now)
	}
	return change{}
}

// probeDone counts a half-open probe's outcome: a failed or slow probe
// opens the breaker again. Called with b.mu held.
func (b *Breaker) probeDone(o Outcome, slow bool, now time.Time) change {
	if o == Failure || slow && b.settings.SlowCallRatio > 0 {
		return b.set(Open, now)
	}
	b.successes++
	if b.successes >= b.settings.HalfOpenMaxRequests {
		return b.set(Closed, now)
	}
	return change{}
}

// advance moves an open breaker whose timeout has passed to half-open.
// Called with b.mu held.
func (b *Breaker) advance(now time.Time) change {
	if b.state == Open && !now.Before(b.openUntil) {
		if b.settings.NoHalfOpen {
			return b.set(Closed, now)
		}
		return b.set(HalfOpen, now)
	}
	return change{}
}

// set changes the state. Called with b.mu held.
func (b *Breaker) set(to State, now time.Time) change {
	from := b.state
	b.state = to
	b.generation++
	b.stats.Transitions++
	b.consecutive, b.probes, b.successes = 0, 0, 0
	b.window = [buckets]bucket{}
	if to == Open {
		b.openUntil = now.Add(b.settings.RecoveryTimeout)
	}
	return change{from: from, to: to, ok: true}
}

// notify announces a change. Called without b.mu.
func (b *Breaker) notify(c change) {
	if c.ok && b.onChange != nil {
		b.onChange(c.from, c.to)
	}
}

// bucket returns the window's bucket for now, recycling a stale one.
// Called with b.mu held.
func (b *Breaker) bucket(now time.Time) *bucket {
	width := int64(b.settings.Window) / buckets
	start := now.UnixNano() / width * width
	bk := &b.window[(start/width)%buckets]
	if bk.start != start {
		*bk = bucket{start: start}
	}
	return bk
}

// windowCounts adds up the buckets inside the window. Called with b.mu held.
func (b *Breaker) windowCounts(now time.Time) (requests, failures, slow int) {
	oldest := now.UnixNano() - int64(b.settings.Window)
	for _, bk := range b.window {
		if bk.start > oldest {
			requests += bk.requests
			failures += bk.failures
			slow += bk.slow
		}
	}
	return requests, failures, slow
}

// State returns the current state (an open breaker whose timeout has
// passed reads as half-open).
func (b *Breaker) State() State {
	return b.Snapshot().State
}

// Snapshot returns the state and the counts.
func (b *Breaker) Snapshot() Snapshot {
	now := b.now()
	b.mu.Lock()
	state := b.state
	if state == Open && !now.Before(b.openUntil) {
		state = HalfOpen
		if b.settings.NoHalfOpen {
			state = Closed
		}
	}
	snap := Snapshot{State: state, ConsecutiveFailures: b.consecutive, Stats: b.stats}
	snap.WindowRequests, snap.WindowFailures, snap.WindowSlow = b.windowCounts(now)
	if state == Open {
		snap.RetryAfter = b.openUntil.Sub(now)
	}
	b.mu.Unlock()
	return snap
}

// Classify says what the result of an HTTP call means to a breaker: an
// answer with a 5xx status is a failure and any other answer a success;
// an error (connection refused, timeout) is a failure, unless the caller's
// own context ended: the client gave up, which says nothing about the
// target, so the call is ignored.
func Classify(status int, err error, caller context.Context) Outcome {
	switch {
	case err != nil && caller != nil && caller.Err() != nil:
		return Ignored
	case err != nil, status >= 500:
		return Failure
	}
	return Success
}
