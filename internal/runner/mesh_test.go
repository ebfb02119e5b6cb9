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
	eventually(t, "a and c serving", func() bool {
		healthy := 0
		for _, s := range p.r.Services() {
			if (s.Name == "a" || s.Name == "c") && len(s.Instances) == 1 && s.Instances[0].Health == "healthy" {
				healthy++
			}
		}
		return healthy == 2
	})
	if status, body := call(t, "GET", gw+"/a", ""); status != 200 || body != "b says hi" {
		t.Fatalf("a -> b: %d %q", status, body)
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
