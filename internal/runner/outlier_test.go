package runner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutlierEjection: an instance that fails every real request while
// its health endpoint passes is ejected after consecutive_failures, shows
// as ejected, gets no requests for base_ejection_time, and is readmitted
// after it.
func TestOutlierEjection(t *testing.T) {
	var badHits atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return // its probes pass
		}
		badHits.Add(1)
		w.WriteHeader(500)
	}))
	t.Cleanup(bad.Close)
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(good.Close)
	p := startPlatform(t, fmt.Sprintf(`[services]
api { kind: "http", instances: [%q, %q], routes: ["/api"] }
[health_checks]
api { outlier_detection { consecutive_failures: 3, base_ejection_time: "300ms" } }
[circuit_breaker]
failure_threshold: 100
`, bad.URL, good.URL))
	gw := "http://" + p.r.GatewayAddr()
	waitHealthy(t, p, "api")
	for badHits.Load() < 3 {
		call(t, "GET", gw+"/api", "")
	}
	ejected := func() bool {
		for _, s := range p.r.Services() {
			if s.Name == "api" {
				return s.Instances[0].EjectedUntil != nil && s.Instances[0].Ejections == 1
			}
		}
		return false
	}
	if !ejected() {
		t.Fatalf("not ejected after 3 failures: %+v", p.r.Services())
	}
	before := badHits.Load()
	for range 20 {
		if status, _ := call(t, "GET", gw+"/api", ""); status != 200 {
			t.Errorf("a request reached the ejected instance: %d", status)
		}
	}
	if badHits.Load() != before {
		t.Errorf("the ejected instance got %d requests", badHits.Load()-before)
	}
	time.Sleep(350 * time.Millisecond)
	for range 4 {
		call(t, "GET", gw+"/api", "")
	}
	if badHits.Load() == before {
		t.Error("the instance was not readmitted after base_ejection_time")
	}
	if ejected() {
		t.Error("still shown as ejected after base_ejection_time")
	}
}
