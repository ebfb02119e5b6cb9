package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/tsk"
)

func noEnv(string) (string, bool) { return "", false }

// waitHealthy waits until every instance of the named services passes
// its health checks.
func waitHealthy(t *testing.T, p *running, names ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%v healthy", names), func() bool {
		healthy := 0
		for _, s := range p.r.Services() {
			if !slices.Contains(names, s.Name) || len(s.Instances) == 0 {
				continue
			}
			ok := true
			for _, in := range s.Instances {
				ok = ok && in.Health == "healthy"
			}
			if ok {
				healthy++
			}
		}
		return healthy == len(names)
	})
}

// platform writes a platform file on loopback ports, with data in dir.
func platform(dir, extra string) string { return platformWith(dir, "", extra) }

// platformWith is platform with more [composer] settings.
func platformWith(dir, settings, extra string) string {
	return fmt.Sprintf(`[composer]
name: "shop"
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
%s
[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
orders { kind: "builtin", routes: ["/orders", "/orders/:id", "/orders/:id/status"], calls: ["users"] }
notifications { kind: "builtin", routes: ["/notifications"] }

[health_checks]
interval: "50ms"
timeout: "1s"
retries: 1

[circuit_breaker]
failure_threshold: 2
recovery_timeout: "1m"

[event_routes]
welcome { topic: "user.created", to: ["notifications"] }
order_confirmation { topic: "order.created", to: ["notifications"] }
%s`, filepath.Join(dir, "data"), settings, extra)
}

type running struct {
	r    *Runner
	file string
	dir  string
}

func startPlatform(t *testing.T, extra string) *running {
	t.Helper()
	return startPlatformWith(t, "", extra)
}

// startPlatformWith is startPlatform with more [composer] settings.
func startPlatformWith(t *testing.T, settings, extra string) *running {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	if err := os.WriteFile(file, []byte(platformWith(dir, settings, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &running{r: startFile(t, file), file: file, dir: dir}
}

// startFile starts a runner on a platform file, stopped when the test ends.
func startFile(t *testing.T, file string) *Runner {
	t.Helper()
	r, err := New(file, &tsk.Loader{LookupEnv: noEnv}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(ctx)
	})
	return r
}

func (p *running) rewrite(t *testing.T, extra string) {
	t.Helper()
	p.rewriteWith(t, "", extra)
}

func (p *running) rewriteWith(t *testing.T, settings, extra string) {
	t.Helper()
	if err := os.WriteFile(p.file, []byte(platformWith(p.dir, settings, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond for up to five seconds (for what happens on other
// goroutines: event delivery, health probes).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 5*time.Second, what, cond)
}

// eventuallyWithin polls cond for up to d.
func eventuallyWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShopEndToEnd(t *testing.T) {
	p := startPlatform(t, "")
	gw := "http://" + p.r.GatewayAddr()
	if status, body := call(t, "POST", gw+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`); status != 201 {
		t.Fatalf("create user: %d %s", status, body)
	}
	if status, body := call(t, "POST", gw+"/orders", `{"user_id":1,"items":[{"product_id":"a","quantity":2,"price":60}]}`); status != 201 || !strings.Contains(body, `"total_amount":120`) {
		t.Fatalf("create order: %d %s", status, body)
	}
	if status, _ := call(t, "POST", gw+"/orders", `{"user_id":9,"items":[{"product_id":"a","quantity":1,"price":1}]}`); status != 422 {
		t.Errorf("order of an unknown user: %d", status)
	}
	eventually(t, "two notifications", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Count(body, `"kind"`) == 2
	})
	admin := "http://" + p.r.AdminAddr()
	_, evs := call(t, "GET", admin+"/v1/events?type=user.created", "")
	if !strings.Contains(evs, `"subject": "1"`) {
		t.Errorf("event store: %s", evs)
	}
	for _, path := range []string{"/healthz", "/readyz", "/v1/status", "/v1/services", "/v1/breakers"} {
		if status, body := call(t, "GET", admin+path, ""); status != 200 {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	if status, body := call(t, "GET", gw+"/nowhere", ""); status != 404 || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown route: %d %s", status, body)
	}
}

func TestReloadAddsRoutesKeepsStateAndSurvivesBadEdits(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "billing saw "+r.URL.Path)
	}))
	defer up.Close()
	p := startPlatform(t, "")
	gw := "http://" + p.r.GatewayAddr()
	if status, _ := call(t, "GET", gw+"/billing/invoices", ""); status != 404 {
		t.Fatalf("billing before it exists: %d", status)
	}
	billing := fmt.Sprintf("[services]\nbilling { kind: \"http\", instances: [%q], routes: [\"/billing/*path\"], strip_prefix: true }\n", up.URL)
	p.rewrite(t, billing)
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	eventually(t, "billing healthy", func() bool {
		_, body := call(t, "GET", "http://"+p.r.AdminAddr()+"/v1/services", "")
		return strings.Contains(body, `"health": "healthy"`)
	})
	if status, body := call(t, "GET", gw+"/billing/invoices", ""); status != 200 || body != "billing saw /invoices" {
		t.Fatalf("billing after the reload: %d %q", status, body)
	}
	// Open billing's breaker.
	for range 2 {
		call(t, "GET", gw+"/billing/fail", "")
	}
	if status, _ := call(t, "GET", gw+"/billing/invoices", ""); status != 503 {
		t.Fatalf("breaker did not open: %d", status)
	}
	// An unrelated edit keeps the open breaker.
	p.rewrite(t, billing+"\n[event_routes]\naudit { topic: \"order.created\", to: [\"http://127.0.0.1:1/hook\"] }\n")
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	if status, _ := call(t, "GET", gw+"/billing/invoices", ""); status != 503 {
		t.Errorf("the open breaker was forgotten by an unrelated reload: %d", status)
	}
	// A bad edit leaves the platform as it was, and says where.
	p.rewrite(t, billing+"\noops: $nope\n")
	res := p.r.Reload()
	if res.OK || len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0], "platform.tsk:") || !strings.Contains(res.Diagnostics[0], "undefined variable $nope") {
		t.Fatalf("bad edit: %+v", res)
	}
	if status, _ := call(t, "POST", gw+"/users", `{"username":"bob","email":"bob@example.com","password":"12345678"}`); status != 201 {
		t.Errorf("the platform stopped serving after a bad edit: %d", status)
	}
	_, status := call(t, "GET", "http://"+p.r.AdminAddr()+"/v1/status", "")
	if !strings.Contains(status, "undefined variable $nope") {
		t.Errorf("/v1/status does not show the diagnostic: %s", status)
	}
	// An identical file changes nothing.
	p.rewrite(t, billing+"\n[event_routes]\naudit { topic: \"order.created\", to: [\"http://127.0.0.1:1/hook\"] }\n")
	if res := p.r.Reload(); !res.OK {
		t.Fatalf("reload: %+v", res)
	}
	if res := p.r.Reload(); !res.OK || res.Changed {
		t.Errorf("reloading an unchanged file: %+v", res)
	}
}

func TestWatchAppliesEdits(t *testing.T) {
	p := startPlatform(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.r.Watch(ctx, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let the watcher start
	gw := "http://" + p.r.GatewayAddr()
	if status, _ := call(t, "GET", gw+"/notifications", ""); status != 200 {
		t.Fatalf("notifications: %d", status)
	}
	p.rewrite(t, "[services]\nnotifications { routes: [] }\n")
	eventually(t, "the edit applied", func() bool {
		status, _ := call(t, "GET", gw+"/notifications", "")
		return status == 404
	})
}

func TestNoRequestFailsAcrossReloads(t *testing.T) {
	p := startPlatform(t, "")
	gw := "http://" + p.r.GatewayAddr()
	call(t, "POST", gw+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	var failed, served atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 2000 && ctx.Err() == nil; i++ {
				resp, err := client.Get(gw + "/users/1")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					served.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for i := range 50 {
		// Alternately drop and add a route, and change a breaker, every time.
		routes := `["/notifications"]`
		if i%2 == 0 {
			routes = "[]"
		}
		p.rewrite(t, fmt.Sprintf("[services]\nnotifications { routes: %s }\n[circuit_breaker]\nusers { failure_threshold: %d }\n", routes, i+3))
		if res := p.r.Reload(); !res.OK {
			t.Fatalf("reload %d: %+v", i, res)
		}
	}
	cancel()
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed across 50 reloads", failed.Load(), failed.Load()+served.Load())
	}
	if p.r.gen().number != 51 {
		t.Errorf("generation %d, want 51", p.r.gen().number)
	}
}

// TestDeadInstanceAvoidedAndBreakerRecovers kills one instance of an http
// service: health checks take it out of the balancer, requests keep
// succeeding on the other; then both die, the breaker opens, and when an
// instance is back the breaker closes again.
func TestDeadInstanceAvoidedAndBreakerRecovers(t *testing.T) {
	var failing atomic.Bool
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.URL.Path != "/health" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	a, b := httptest.NewServer(handler), httptest.NewServer(handler)
	defer a.Close()
	defer b.Close()
	extra := fmt.Sprintf("[services]\nbilling { kind: \"http\", instances: [%q, %q], routes: [\"/billing\"] }\n"+
		"[circuit_breaker]\nbilling { failure_threshold: 2, recovery_timeout: \"200ms\" }\n", a.URL, b.URL)
	p := startPlatform(t, extra)
	gw := "http://" + p.r.GatewayAddr()
	admin := "http://" + p.r.AdminAddr()
	eventually(t, "both instances healthy", func() bool {
		_, body := call(t, "GET", admin+"/v1/services", "")
		return strings.Count(body, `"health": "healthy"`) == 2
	})
	a.Close() // connection refused from now on
	eventually(t, "the dead instance unhealthy", func() bool {
		_, body := call(t, "GET", admin+"/v1/services", "")
		return strings.Contains(body, `"health": "unhealthy"`)
	})
	for range 10 {
		if status, body := call(t, "GET", gw+"/billing", ""); status != 200 {
			t.Fatalf("with one instance left: %d %s", status, body)
		}
	}
	// Now the other one fails too: the breaker opens.
	failing.Store(true)
	for range 2 {
		call(t, "GET", gw+"/billing", "")
	}
	_, body := call(t, "GET", admin+"/v1/breakers", "")
	if !strings.Contains(body, `"state": "open"`) {
		t.Fatalf("breaker not open: %s", body)
	}
	failing.Store(false) // back
	eventually(t, "the breaker closed again", func() bool {
		status, _ := call(t, "GET", gw+"/billing", "")
		return status == 200
	})
	_, body = call(t, "GET", admin+"/v1/breakers", "")
	if !strings.Contains(body, `"state": "closed"`) {
		t.Errorf("breaker after recovery: %s", body)
	}
}

func TestFilteredEventRoute(t *testing.T) {
	var mu sync.Mutex
	var hooked []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooked = append(hooked, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	p := startPlatform(t, fmt.Sprintf(`big_orders { topic: "order.created", filter: "data.total_amount > 100 && type == \"order.created\"", to: [%q] }
`, hook.URL))
	gw := "http://" + p.r.GatewayAddr()
	call(t, "POST", gw+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	for _, price := range []int{50, 150, 100} {
		if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":1,"items":[{"product_id":"a","quantity":1,"price":%d}]}`, price)); status != 201 {
			t.Fatalf("order: %d %s", status, body)
		}
	}
	// Every order's event went through the unfiltered route...
	eventually(t, "three order confirmations", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Count(body, "order") >= 3
	})
	// ...and only the big one through the filtered route.
	eventually(t, "the big order's hook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooked) >= 1
	})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 1 || !strings.Contains(hooked[0], `"total_amount":150`) {
		t.Fatalf("the filtered route delivered %q", hooked)
	}
}
