package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
)

func TestGRPCTimeoutHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"100m", 100 * time.Millisecond, true}, {"1S", time.Second, true}, {"2M", 2 * time.Minute, true},
		{"1H", time.Hour, true}, {"5u", 5 * time.Microsecond, true}, {"7n", 7, true}, {"99999999S", 99999999 * time.Second, true},
		{"", 0, false}, {"m", 0, false}, {"10", 0, false}, {"10x", 0, false}, {"-1S", 0, false}, {"123456789S", 0, false}, {"1.5S", 0, false},
	} {
		got, ok := ParseGRPCTimeout(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseGRPCTimeout(%q) = %s %v, want %s %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{1500 * time.Microsecond, "1500000n"}, {2 * time.Minute, "120000m"}, {time.Hour, "3600000m"},
		{500 * time.Hour, "1800000S"}, {0, "1n"}, {-time.Second, "1n"},
	} {
		if got := FormatGRPCTimeout(tc.in); got != tc.want {
			t.Errorf("FormatGRPCTimeout(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzGRPCTimeout: a client's grpc-timeout never panics, and what the
// gateway writes reads back as at least the time it meant (a server is
// never told less time than is left).
func FuzzGRPCTimeout(f *testing.F) {
	for _, s := range []string{"100m", "1S", "99999999H", "0n", "", "12x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseGRPCTimeout(v)
		if !ok || d <= 0 {
			return
		}
		back, ok := ParseGRPCTimeout(FormatGRPCTimeout(d))
		if !ok || back < d {
			t.Fatalf("%q = %s, written as %q = %s", v, d, FormatGRPCTimeout(d), back)
		}
	})
}

func TestGRPCPolicy(t *testing.T) {
	p := GRPCDefaults.Policy()
	for code, want := range map[string]breaker.Outcome{"0": breaker.Success, "1": breaker.Ignored, "2": breaker.Failure, "3": breaker.Success,
		"4": breaker.Failure, "5": breaker.Success, "13": breaker.Failure, "14": breaker.Failure, "15": breaker.Failure, "16": breaker.Success, "x": breaker.Failure} {
		if got := p.outcome(code); got != want {
			t.Errorf("outcome(%s) = %v, want %v", code, got, want)
		}
	}
	retry := func(h ...string) bool {
		resp := &http.Response{Header: http.Header{}}
		for i := 0; i < len(h); i += 2 {
			resp.Header.Set(h[i], h[i+1])
		}
		return p.retry(resp)
	}
	if !retry("Grpc-Status", "14") || retry("Grpc-Status", "13") || retry("Grpc-Status", "14", "Grpc-Retry-Pushback-Ms", "-1") ||
		!retry("Grpc-Status", "14", "Grpc-Retry-Pushback-Ms", "10") || retry("Grpc-Status", "14", "Grpc-Retry-Pushback-Ms", "soon") {
		t.Error("retry: UNAVAILABLE only, and not when the pushback says no")
	}
	if _, err := ParseCodes([]string{"unavailable", "DATA_LOSS", "3"}); err != nil {
		t.Error(err)
	}
	if _, err := ParseCodes([]string{"unavaliable"}); err == nil {
		t.Error("a misspelt code parsed")
	}
}

// lateContext has a deadline that has passed but has not noticed: its
// timer has yet to fire (as under load).
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// TestGRPCDeadlineBody: a gRPC answer's read that fails past the call's
// deadline ends the answer with DEADLINE_EXCEEDED, even before the
// context's timer has fired; other ends are left as they are.
func TestGRPCDeadlineBody(t *testing.T) {
	reset := errors.New("stream error: stream ID 11; CANCEL; received from peer")
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	later, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		read    error
		want    error
		trailer string
	}{
		{"the deadline cut it", expired, reset, io.EOF, "4"},
		{"the instance reset it at the deadline, before the timer fired", lateContext{later}, reset, io.EOF, "4"},
		{"the client cancelled", cancelled, reset, reset, ""},
		{"reset before the deadline", later, reset, reset, ""},
		{"the answer's end", expired, io.EOF, io.EOF, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{}
			b := &grpcDeadlineBody{ReadCloser: io.NopCloser(failingReader{tc.read}), resp: resp, ctx: tc.ctx}
			if _, err := b.Read(make([]byte, 8)); err != tc.want {
				t.Errorf("read: %v, want %v", err, tc.want)
			}
			if got := resp.Trailer.Get("Grpc-Status"); got != tc.trailer {
				t.Errorf("grpc-status trailer %q, want %q", got, tc.trailer)
			}
		})
	}
}

type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// TestFailurePastTheDeadlineIsTheDeadlines: a try that fails once the
// request's deadline has passed (an instance resetting the stream at the
// same deadline) answers as the deadline does, 504, even before the
// context's timer has fired; before the deadline it is a failure, 502.
func TestFailurePastTheDeadlineIsTheDeadlines(t *testing.T) {
	reset := errors.New("stream error: stream ID 5; CANCEL; received from peer")
	in := balancer.NewInstance("http://127.0.0.1:1")
	in.SetHealth(balancer.Healthy)
	bal, _ := balancer.New(balancer.RoundRobin, []*balancer.Instance{in})
	up := &Upstream{Name: "hc", Balancer: bal, Breaker: breaker.New(breaker.Settings{FailureThreshold: 100}, nil, nil),
		Transport: failingTransport{reset}}
	later, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want int
	}{
		{"past the deadline, the timer yet to fire", lateContext{later}, http.StatusGatewayTimeout},
		{"before the deadline", later, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			up.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(tc.ctx))
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

// overlapReader is a client's side that notes two reads at once: each
// read holds it for a moment, and gives one byte until n have been read.
type overlapReader struct {
	reading, overlaps atomic.Int32
	left              atomic.Int32
}

func (r *overlapReader) Read(p []byte) (int, error) {
	if r.reading.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	defer r.reading.Add(-1)
	time.Sleep(2 * time.Millisecond)
	if r.left.Add(-1) < 0 {
		return 0, io.EOF
	}
	p[0] = 'x'
	return 1, nil
}

func (r *overlapReader) Close() error { return nil }

// TestRecordBodyOneReadAtATime: settle reads the rest of the client's
// side while a try's transport may still be in a read of it (its answer
// came first); the two reads are one after the other, never at once, and
// what both read is kept in order for the replay.
func TestRecordBodyOneReadAtATime(t *testing.T) {
	in := &overlapReader{}
	in.left.Store(20)
	b := &recordBody{in: in, limit: 1 << 10}
	transport := make(chan struct{})
	go func() { // the first try's transport, reading on after its answer
		defer close(transport)
		buf := make([]byte, 1)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	for b.mu.Lock(); !b.read; b.mu.Lock() { // (until the transport has begun)
		b.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	b.mu.Unlock()
	b.settle(5 * time.Second)
	<-transport
	if n := in.overlaps.Load(); n != 0 {
		t.Errorf("%d reads of the client's side began while another was under way", n)
	}
	body, ok := b.replay()
	if !ok {
		t.Fatal("a call read to its end within the limit cannot be sent again")
	}
	got, _ := io.ReadAll(body)
	if string(got) != strings.Repeat("x", 20) {
		t.Errorf("replayed %q, want the 20 bytes read", got)
	}
}
