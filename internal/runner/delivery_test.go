package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestEventsToAServiceByName: an event route target that names a service
// (and a path) delivers the CloudEvent to one of its healthy instances,
// through its balancer and a breaker named events-><service>.
func TestEventsToAServiceByName(t *testing.T) {
	var mu sync.Mutex
	var got []string
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		b, _ := io.ReadAll(r.Body)
		var ce struct {
			Type, Source string
		}
		json.Unmarshal(b, &ce)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+ce.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(billing.Close)
	p := startPlatform(t, fmt.Sprintf(`[services]
billing { kind: "http", instances: [%q] }
[event_routes]
invoices { topic: "order.created", to: ["billing/hooks/order"] }
`, billing.URL))
	gw := "http://" + p.r.GatewayAddr()
	id := createUser(t, gw, "ada")
	if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":5}]}`, id)); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	eventually(t, "the delivery to billing", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	if got[0] != "POST /hooks/order application/cloudevents+json order.created" {
		t.Errorf("billing received %q", got[0])
	}
	mu.Unlock()
	if _, ok := p.r.Breakers()["events->billing"]; !ok {
		t.Errorf("no breaker events->billing: %v", p.r.Breakers())
	}
}
