package runner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestWeightsAndHashing through the platform: instances as { url, weight }
// share 3:1, and consistent_hash keeps a header's key on one instance.
func TestWeightsAndHashing(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	byKey := map[string]map[string]bool{}
	instance := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			hits[name]++
			if k := r.Header.Get("X-User"); k != "" {
				if byKey[k] == nil {
					byKey[k] = map[string]bool{}
				}
				byKey[k][name] = true
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b, c := instance("a"), instance("b"), instance("c")
	p := startPlatform(t, fmt.Sprintf(`[services]
weighted { kind: "http", instances: [{ url: %q, weight: 3 }, %q], routes: ["/weighted"] }
sticky { kind: "http", instances: [%q, %q, %q], routes: ["/sticky"], load_balancer: "consistent_hash", hash_on: "header:X-User" }
`, a.URL, b.URL, a.URL, b.URL, c.URL))
	gw := "http://" + p.r.GatewayAddr()
	client := &http.Client{}
	for range 1000 {
		resp, err := client.Get(gw + "/weighted")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	if ratio := float64(hits["a"]) / float64(hits["b"]); ratio < 2.9 || ratio > 3.1 {
		t.Errorf("weights 3:1 gave %d:%d", hits["a"], hits["b"])
	}
	mu.Unlock()
	for k := range 50 {
		for range 4 {
			req, _ := http.NewRequest("GET", gw+"/sticky", nil)
			req.Header.Set("X-User", fmt.Sprintf("user-%d", k))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	used := map[string]bool{}
	for k, on := range byKey {
		if len(on) != 1 {
			t.Errorf("key %s reached %d instances", k, len(on))
		}
		for name := range on {
			used[name] = true
		}
	}
	if len(used) < 2 {
		t.Errorf("50 keys all on %v", used)
	}
}
