package gateway

import (
	"context"
	"encoding/json"
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

// upstream is a real HTTP server on loopback that records what it saw.
type upstream struct {
	*httptest.Server
	hits atomic.Int32
	last atomic.Pointer[http.Request]
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.last.Store(r)
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not reach the client")
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

// gatewayFor serves the upstreams' instances behind one Upstream.
func gatewayFor(t *testing.T, cfg Upstream, addrs ...string) (*httptest.Server, *Upstream) {
	var ins []*balancer.Instance
	for _, a := range addrs {
		in := balancer.NewInstance(a)
		in.SetHealth(balancer.Healthy)
		ins = append(ins, in)
	}
	bal, _ := balancer.New(balancer.RoundRobin, ins)
	cfg.Balancer = bal
	if cfg.Breaker == nil {
		cfg.Breaker = breaker.New(breaker.Settings{FailureThreshold: 100}, nil, nil)
	}
	up := &cfg
	srv := httptest.NewServer(RequestID(BodyLimit(1<<10, up.Handler())))
	t.Cleanup(srv.Close)
	return srv, up
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestForwarding(t *testing.T) {
	up := newUpstream(t, nil)
	gw, _ := gatewayFor(t, Upstream{Name: "billing", StripPrefix: "/billing"}, up.URL)
	resp, body := get(t, gw.URL+"/billing/invoices/7?x=1", "Connection", "X-Client-Hop", "X-Client-Hop", "secret", RequestIDHeader, "req-42")
	if resp.StatusCode != 200 || body != "hello from /invoices/7" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	in := up.last.Load()
	if in.URL.RawQuery != "x=1" || in.Header.Get("X-Forwarded-For") != "127.0.0.1" || in.Header.Get("X-Forwarded-Proto") != "http" ||
		in.Header.Get("X-Forwarded-Host") == "" || in.Header.Get(RequestIDHeader) != "req-42" {
		t.Errorf("upstream saw %v ?%s", in.Header, in.URL.RawQuery)
	}
	if in.Header.Get("X-Client-Hop") != "" {
		t.Error("a hop-by-hop header of the client reached the service")
	}
	if resp.Header.Get("X-Hop") != "" {
		t.Error("a hop-by-hop header of the service reached the client")
	}
	if resp.Header.Get(RequestIDHeader) != "req-42" {
		t.Errorf("request id %q in the answer", resp.Header.Get(RequestIDHeader))
	}
	// Without an id, the gateway makes one.
	resp, _ = get(t, gw.URL+"/billing/x")
	if id := resp.Header.Get(RequestIDHeader); len(id) != 32 || up.last.Load().Header.Get(RequestIDHeader) != id {
		t.Errorf("made-up request id %q", id)
	}
}

func TestRetryOnAnotherInstance(t *testing.T) {
	down := newUpstream(t, nil)
	down.Close() // connection refused
	up := newUpstream(t, nil)
	gw, _ := gatewayFor(t, Upstream{Name: "s", Retries: 1}, down.URL, up.URL)
	for range 4 { // whichever instance comes first
		if resp, body := get(t, gw.URL+"/a"); resp.StatusCode != 200 {
			t.Fatalf("GET: %d %s", resp.StatusCode, body)
		}
	}
	// A POST is not idempotent: not retried.
	failed := 0
	for range 4 {
		resp, err := http.Post(gw.URL+"/a", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d of 4 POSTs failed, want the 2 sent to the dead instance", failed)
	}
}

func TestOpenBreakerAnswers503WithoutTouchingTheService(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	br := breaker.New(breaker.Settings{FailureThreshold: 3, RecoveryTimeout: 30 * time.Second}, nil, nil)
	gw, _ := gatewayFor(t, Upstream{Name: "flaky", Breaker: br}, up.URL)
	for range 3 {
		if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != 500 {
			t.Fatalf("status %d, want the service's 500", resp.StatusCode)
		}
	}
	resp, body := get(t, gw.URL+"/")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("open breaker: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var e map[string]string
	if json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e["error"], "circuit breaker open") || e["request_id"] == "" {
		t.Errorf("error body %q", body)
	}
	if up.hits.Load() != 3 {
		t.Errorf("the service was called %d times, want 3", up.hits.Load())
	}
}

func TestTryTimeout(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	gw, up2 := gatewayFor(t, Upstream{Name: "slow", Timeout: 50 * time.Millisecond}, up.URL)
	resp, _ := get(t, gw.URL+"/")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if s := up2.Breaker.Snapshot(); s.Failures != 1 {
		t.Errorf("a timeout counted %+v, want one failure", s.Stats)
	}
}

func TestClientCancellationDoesNotCount(t *testing.T) {
	started := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	gw, u := gatewayFor(t, Upstream{Name: "s"}, up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.URL+"/", nil)
	go func() { <-started; cancel() }()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for u.Breaker.Snapshot().Ignored == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the gateway notices the cancellation on its own goroutine
	}
	if s := u.Breaker.Snapshot(); s.Ignored != 1 || s.Failures != 0 {
		t.Errorf("breaker counted %+v, want one ignored call", s.Stats)
	}
}

func TestNoHealthyInstance(t *testing.T) {
	gw, u := gatewayFor(t, Upstream{Name: "s"}, "http://127.0.0.1:1")
	u.Balancer.Instances()[0].SetHealth(balancer.Unhealthy)
	if resp, body := get(t, gw.URL+"/"); resp.StatusCode != 503 || !strings.Contains(body, "no healthy instance") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestBodyLimit(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	gw, _ := gatewayFor(t, Upstream{Name: "s"}, up.URL)
	resp, err := http.Post(gw.URL+"/", "text/plain", strings.NewReader(strings.Repeat("x", 2<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

// TestNewRequestIDs: made ids are 32 lower-case hex digits, and none
// repeats.
func TestNewRequestIDs(t *testing.T) {
	seen := make(map[string]bool)
	for range 100000 {
		x := newRequestID()
		id := x.ids[0]
		if x.ids[1] != id {
			t.Fatalf("ids %q", x.ids)
		}
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}
