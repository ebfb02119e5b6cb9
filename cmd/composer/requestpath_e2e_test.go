package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestRequestPathThroughTheBinary runs the composer binary in front of
// real upstreams on loopback: a WebSocket echoes across an edit of the
// platform file, a 500 survives the retries intact, and an instance that
// fails every real request while its probes pass is ejected.
func TestRequestPathThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, msg) != nil {
				return
			}
		}
	}))
	defer echo.Close()
	var brokenHits atomic.Int32
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		brokenHits.Add(1)
		w.Header().Set("X-Why", "disk full")
		w.WriteHeader(500)
		io.WriteString(w, "no space left")
	}))
	defer broken.Close()
	// Instances that say who they are and record what they received.
	var mu sync.Mutex
	seen := map[string][]string{}
	named := func(name string, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen[name] = append(seen[name], r.Header.Get("X-User")+"|"+string(b))
			mu.Unlock()
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	bad, good, a, b, h1, h2 := named("bad", 502), named("good", 200), named("a", 200), named("b", 200), named("h1", 200), named("h2", 200)
	file := filepath.Join(dir, "platform.tsk")
	platform := func(extra string) string {
		return fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: "data"
[services]
chat { kind: "http", instances: [%q], routes: ["/ws"] }
store { kind: "http", instances: [%q], routes: ["/store/*path"], retries: 2, retry_backoff: "1ms" }
pair { kind: "http", instances: [%q, %q], routes: ["/pair"], retries: 1, retry_backoff: "1ms" }
weighted { kind: "http", instances: [{ url: %q, weight: 3 }, %q], routes: ["/weighted"] }
sticky { kind: "http", instances: [%q, %q], routes: ["/sticky"], load_balancer: "consistent_hash", hash_on: "header:X-User" }
[health_checks]
interval: "100ms"
store { outlier_detection { consecutive_failures: 6, base_ejection_time: "1m" } }
[circuit_breaker]
failure_threshold: 100
%s`, freePort(t), echo.URL, broken.URL, bad.URL, good.URL, a.URL, b.URL, h1.URL, h2.URL, extra)
	}
	writePlatform(t, file, platform(""))
	comp := startBinary(t, bin, file)
	defer comp.stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(comp.gateway, "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the binary: %v", err)
	}
	defer c.CloseNow()
	say := func(msg string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: %q %v", msg, got, err)
		}
	}
	say("before the edit")
	// An edit of the file: the watcher reloads it, the connection stays.
	writePlatform(t, file, platform("[services]\nextra { kind: \"http\", instances: [\"http://127.0.0.1:1\"], routes: [\"/extra\"] }\n"))
	waitFor(t, "the edit applied", func() bool {
		_, body := httpDo(t, "GET", comp.admin+"/v1/status", "")
		return strings.Contains(body, `"generation": 2`)
	})
	say("after the edit")

	// The last real answer, after 3 tries of the one instance.
	resp, err := http.Get(comp.gateway + "/store/item")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("X-Why") != "disk full" || string(body) != "no space left" {
		t.Errorf("answer %d %q %q, want the instance's own 500", resp.StatusCode, resp.Header.Get("X-Why"), body)
	}
	if n := brokenHits.Load(); n != 3 {
		t.Errorf("%d tries, want 3", n)
	}
	// Three more requests make 6 failures in a row: ejected, although its
	// health endpoint passes.
	for range 2 {
		if r, err := http.Get(comp.gateway + "/store/item"); err == nil {
			r.Body.Close()
		}
	}
	_, services := httpDo(t, "GET", comp.admin+"/v1/services", "")
	var list []struct {
		Name      string
		Instances []struct {
			Health       string     `json:"health"`
			EjectedUntil *time.Time `json:"ejected_until"`
		}
	}
	if err := json.Unmarshal([]byte(services), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == "store" && (len(s.Instances) != 1 || s.Instances[0].EjectedUntil == nil || s.Instances[0].Health != "healthy") {
			t.Errorf("the failing instance is not ejected while healthy: %s", services)
		}
	}
	if status, body := httpDo(t, "GET", comp.gateway+"/store/item", ""); status != http.StatusServiceUnavailable {
		t.Errorf("with its only instance ejected: %d %s", status, body)
	}

	// A PUT with a body, retried on the second instance with the same bytes.
	for range 2 {
		if status, body := httpDo(t, "PUT", comp.gateway+"/pair", "the same bytes"); status != 200 {
			t.Errorf("PUT: %d %s", status, body)
		}
	}
	// Weights 3:1 over 1,000 requests; a header's key on one instance.
	client := &http.Client{Timeout: 5 * time.Second}
	for range 1000 {
		if r, err := client.Get(comp.gateway + "/weighted"); err == nil {
			r.Body.Close()
		}
	}
	for k := range 40 {
		for range 3 {
			req, _ := http.NewRequest("GET", comp.gateway+"/sticky", nil)
			req.Header.Set("X-User", fmt.Sprint("user-", k))
			if r, err := client.Do(req); err == nil {
				r.Body.Close()
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(seen["good"], ","); got != "|the same bytes,|the same bytes" {
		t.Errorf("the second instance received %q", got)
	}
	if ratio := float64(len(seen["a"])) / float64(len(seen["b"])); ratio < 2.9 || ratio > 3.1 {
		t.Errorf("weights 3:1 gave %d:%d", len(seen["a"]), len(seen["b"]))
	}
	where := map[string]map[string]bool{}
	for _, inst := range []string{"h1", "h2"} {
		for _, line := range seen[inst] {
			key, _, _ := strings.Cut(line, "|")
			if where[key] == nil {
				where[key] = map[string]bool{}
			}
			where[key][inst] = true
		}
	}
	for key, on := range where {
		if len(on) != 1 {
			t.Errorf("key %s reached %v", key, on)
		}
	}
}
