package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tuskcompose/composer/internal/logging"
	"github.com/tuskcompose/composer/tsk"
)

// scrape returns the lines of /metrics that are samples.
func scrape(t *testing.T, admin string) map[string]string {
	t.Helper()
	status, body := call(t, "GET", admin+"/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	out := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[line[:i]] = line[i+1:]
	}
	return out
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.WriteHeader(500)
	}))
	defer failing.Close()
	p := startPlatform(t, "")
	p.rewrite(t, fmt.Sprintf(`
[services]
billing { kind: "http", instances: [%q], routes: ["/billing/*path"] }
`, failing.URL))
	if res := p.r.Reload(); !res.OK {
		t.Fatalf("reload: %+v", res)
	}
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()
	id := createUser(t, gw, "ada")
	// orders checks the user over gRPC through the mesh, the pair's path.
	if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":5}]}`, id)); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	call(t, "GET", gw+"/nowhere", "")
	for i := 0; i < 3; i++ { // the breaker opens after 2 failures (failure_threshold: 2)
		call(t, "GET", gw+"/billing/invoices", "")
	}
	eventually(t, "the welcome", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Contains(body, "welcome")
	})
	eventually(t, "the outbox relayed", func() bool { return scrape(t, admin)["composer_outbox_events"] == "0" })
	m := scrape(t, admin)
	want := map[string]string{
		`composer_http_requests_total{code="2xx",method="POST",route="/users",service="users"}`:          "1",
		`composer_http_requests_total{code="4xx",method="GET",route="unmatched",service="none"}`:         "1",
		`composer_http_requests_total{code="5xx",method="GET",route="/billing/*path",service="billing"}`: "3",
		`composer_http_request_duration_seconds_count{route="/billing/*path",service="billing"}`:         "3",
		`composer_upstream_tries_total{outcome="failure",retry="false",service="billing"}`:               "2",
		`composer_upstream_tries_total{outcome="success",retry="false",service="orders->users"}`:         "1",
		`composer_mesh_tries_total{caller="orders",outcome="success",target="users"}`:                    "1",
		`composer_breaker_state{state="open",target="billing"}`:                                          "1",
		`composer_breaker_state{state="closed",target="billing"}`:                                        "0",
		`composer_breaker_transitions_total{target="billing"}`:                                           "1",
		`composer_breaker_rejected_total{target="billing"}`:                                              "1",
		fmt.Sprintf(`composer_instance_healthy{instance=%q,service="billing"}`, failing.URL):             "1",
		`composer_events_published_total{topic="user.created"}`:                                          "1",
		`composer_events_total{outcome="delivered",route="welcome"}`:                                     "1",
		`composer_reloads_total{result="applied"}`:                                                       "1",
		`composer_generation`:    "2",
		`composer_outbox_events`: "0",
		`composer_reload_failed`: "0",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %s", k, m[k], v)
		}
	}
	// The dashboard's rates come from the counts by service.
	counts := p.r.Counts()
	for k, v := range map[string]int64{"svc:billing": 3, "svc:none": 1} {
		if counts[k] != v {
			t.Errorf("count %s = %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	if counts["svc:users"] < 1 || counts["svc:orders"] != 1 {
		t.Errorf("counts of users and orders: %v", counts)
	}
	// A failed reload shows until one succeeds.
	os.WriteFile(p.file, []byte("oops: $nope\n"), 0o644)
	if res := p.r.Reload(); res.OK {
		t.Fatal("a bad file reloaded")
	}
	if got := scrape(t, admin)["composer_reload_failed"]; got != "1" {
		t.Errorf("composer_reload_failed after a failed reload = %q", got)
	}
}

func TestMetricsOff(t *testing.T) {
	p := startPlatform(t, "\n[microservices_configuration]\nenable_metrics: false\n")
	if status, _ := call(t, "GET", "http://"+p.r.AdminAddr()+"/metrics", ""); status != 404 {
		t.Fatalf("/metrics with enable_metrics: false: %d", status)
	}
}

// syncBuffer is a log destination for a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogLinesCarryTheRequestID(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nobody listens there any more
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	os.WriteFile(file, []byte(platform(dir, fmt.Sprintf(`
[services]
billing { kind: "http", instances: [%q], routes: ["/billing/*path"] }
`, down.URL))), 0o644)
	var logs syncBuffer
	r, err := New(file, &tsk.Loader{LookupEnv: noEnv}, logging.New(&logs, "json", slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Stop(context.Background())
	req, _ := http.NewRequest("GET", "http://"+r.GatewayAddr()+"/billing/x", nil)
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, "the failed call's log line", func() bool { return strings.Contains(logs.String(), "service call failed") })
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, "service call failed") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["request_id"] != "req-42" || rec["service"] != "billing" {
			t.Fatalf("log line %s", line)
		}
	}
}
