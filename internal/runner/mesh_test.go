package runner

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMeshCalls: processes that call a service get its upstream address
// in their environment (COMPOSER_B_URL); a call through it reaches the
// service; each caller has its own breaker, so when b fails, a's breaker
// opens while c's stays closed until c's own calls fail.
func TestMeshCalls(t *testing.T) {
	var failing atomic.Bool
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		if failing.Load() {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "b says hi")
	}))
	t.Cleanup(b.Close)
	caller := func(name string) string {
		return fmt.Sprintf("%s { kind: \"process\", command: [%q, \"-test.run=^$\"], routes: [\"/%s\"], calls: [\"b\"], env: { COMPOSER_TEST_SERVE: \"1\", COMPOSER_TEST_FORWARD: \"COMPOSER_B_URL\" } }\n",
			name, os.Args[0], name)
	}
	p := startPlatform(t, fmt.Sprintf("[services]\nb { kind: \"http\", instances: [%q] }\n%s%s", b.URL, caller("a"), caller("c")))
	gw := "http://" + p.r.GatewayAddr()
	waitHealthy(t, p, "a", "c")
	if status, body := call(t, "GET", gw+"/a", ""); status != 200 || body != "b says hi" {
		t.Fatalf("a -> b: %d %q", status, body)
	}
	if m := scrape(t, "http://"+p.r.AdminAddr()); m[`composer_mesh_tries_total{caller="a",target="b",outcome="success"}`] != "1" &&
		m[`composer_mesh_tries_total{caller="a",outcome="success",target="b"}`] != "1" {
		t.Errorf("no mesh metric of the call a -> b")
	}
	// An unrelated reload: the pairs keep their ports.
	addrs := fmt.Sprint(p.r.Mesh())
	p.rewrite(t, fmt.Sprintf("[services]\nb { kind: \"http\", instances: [%q] }\n%s%snotifications { routes: [] }\n", b.URL, caller("a"), caller("c")))
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	if got := fmt.Sprint(p.r.Mesh()); got != addrs {
		t.Errorf("the pairs moved: %s -> %s", addrs, got)
	}
	mesh := p.r.Mesh()
	if len(mesh) != 2 || mesh[0].Caller != "a" || mesh[1].Caller != "c" || !strings.HasPrefix(mesh[0].Address, "127.0.0.1:") {
		t.Fatalf("/v1/mesh: %+v", mesh)
	}
	failing.Store(true)
	for range 3 { // failure_threshold: 2
		call(t, "GET", gw+"/a", "")
	}
	br := p.r.Breakers()
	if br["a->b"].State.String() != "open" || br["c->b"].State.String() != "closed" {
		t.Fatalf("a->b %v, c->b %v", br["a->b"].State, br["c->b"].State)
	}
	for range 3 {
		call(t, "GET", gw+"/c", "")
	}
	if s := p.r.Breakers()["c->b"].State.String(); s != "open" {
		t.Errorf("c->b %s after c's own calls failed", s)
	}
}

// TestPublishThroughTheComposer: a process publishes at its
// COMPOSER_EVENTS_URL; the event gets source /services/<name>, is
// routed like any other, and a type it does not list in publishes is
// refused.
func TestPublishThroughTheComposer(t *testing.T) {
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(hook.Close)
	p := startPlatform(t, fmt.Sprintf(`[services]
billing { kind: "process", command: [%q, "-test.run=^$"], publishes: ["invoice.paid"], env: { COMPOSER_TEST_SERVE: "1" } }
[event_routes]
paid { topic: "invoice.paid", to: [%q] }
`, os.Args[0], hook.URL))
	p.r.meshMu.Lock()
	url := "http://" + p.r.publishers["billing"].ln.Addr().String() + "/"
	p.r.meshMu.Unlock()
	post := func(ce string) (int, string) {
		resp, err := http.Post(url, "application/cloudevents+json", strings.NewReader(ce))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(`{"specversion":"1.0","type":"invoice.paid","source":"/services/orders","subject":"7","data":{"amount":3}}`); status != 202 {
		t.Fatalf("publish: %d %s", status, body)
	}
	select {
	case ce := <-got:
		if !strings.Contains(ce, `"source":"/services/billing"`) || !strings.Contains(ce, `"amount":3`) {
			t.Errorf("delivered %s", ce)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the published event was not delivered")
	}
	if status, body := post(`{"type":"order.created"}`); status != 403 || !strings.Contains(body, "does not publish") {
		t.Errorf("a type billing does not publish: %d %s", status, body)
	}
	if status, _ := post(`not json`); status != 400 {
		t.Errorf("garbage: %d", status)
	}
}

// TestSharedMeshListener: callers the composer does not start reach the
// services at [mesh] listen, /<target>/<path>, naming themselves in
// X-Composer-Caller; strict refuses what calls does not declare.
func TestSharedMeshListener(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		io.WriteString(w, "b saw "+r.URL.Path)
	}))
	t.Cleanup(b.Close)
	p := startPlatform(t, fmt.Sprintf(`[services]
b { kind: "http", instances: [%q] }
web { kind: "http", instances: ["http://127.0.0.1:1"], calls: ["b"] }
`, b.URL))
	mesh := "http://" + p.r.Status().Mesh
	do := func(path, caller string) (int, string) {
		req, _ := http.NewRequest("GET", mesh+path, nil)
		if caller != "" {
			req.Header.Set("X-Composer-Caller", caller)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := do("/b/invoices/7", "web"); status != 200 || body != "b saw /invoices/7" {
		t.Errorf("web -> b: %d %q", status, body)
	}
	if _, ok := p.r.Breakers()["web->b"]; !ok {
		t.Error("no breaker web->b")
	}
	if status, body := do("/b/x", ""); status != 403 || !strings.Contains(body, "X-Composer-Caller") {
		t.Errorf("no caller: %d %s", status, body)
	}
	if status, _ := do("/users/1", "web"); status != 403 {
		t.Errorf("an undeclared call: %d", status)
	}
	if status, _ := do("/nobody/x", "web"); status != 404 {
		t.Errorf("no such service: %d", status)
	}
}
