package gateway

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/breaker"
)

func TestRetryWait(t *testing.T) {
	r := Retry{Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	answer := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	for _, tc := range []struct {
		name     string
		n        int
		failed   *http.Response
		min, max time.Duration
	}{
		{"first retry: up to the base", 1, nil, 0, 10 * time.Millisecond},
		{"third: up to 4 × the base", 3, answer(500, ""), 0, 40 * time.Millisecond},
		{"tenth: up to the bound", 10, nil, 0, 50 * time.Millisecond},
		{"Retry-After of a 503, up to the bound", 1, answer(503, "1"), 50 * time.Millisecond, 50 * time.Millisecond},
		{"Retry-After: 0", 1, answer(503, "0"), 0, 0},
		{"Retry-After of a 500 is not a retry hint", 1, answer(500, "1"), 0, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				if got := r.wait(tc.n, tc.failed); got < tc.min || got > tc.max {
					t.Fatalf("wait %s, want %s to %s", got, tc.min, tc.max)
				}
			}
		})
	}
}

// TestTheLastRealAnswer: when the tries run out, the client gets the
// instance's own answer (status, headers, body), not the gateway's, and a
// retry with no other instance left goes to the same one.
func TestTheLastRealAnswer(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Why", "database down")
		w.WriteHeader(500)
		io.WriteString(w, `{"error":"the database is down"}`)
	})
	gw, _ := gatewayFor(t, Upstream{Name: "s", Retries: 2, Retry: Retry{Backoff: time.Millisecond, MaxBackoff: time.Millisecond}}, up.URL)
	resp, body := get(t, gw.URL+"/a")
	if resp.StatusCode != 500 || resp.Header.Get("X-Why") != "database down" || body != `{"error":"the database is down"}` {
		t.Errorf("answer %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if n := up.hits.Load(); n != 3 {
		t.Errorf("%d tries on the one instance, want 3", n)
	}
	// And when a later try gets no answer at all, the earlier real one.
	var calls sync.Mutex
	n := 0
	flaky := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Lock()
		n++
		first := n == 1
		calls.Unlock()
		if !first {
			panic(http.ErrAbortHandler) // the connection is cut: no answer
		}
		w.Header().Set("X-Why", "overloaded")
		w.WriteHeader(503)
		io.WriteString(w, "overloaded")
	})
	gw2, _ := gatewayFor(t, Upstream{Name: "s", Retries: 1, Retry: Retry{}}, flaky.URL)
	if resp, body := get(t, gw2.URL+"/a"); resp.StatusCode != 503 || body != "overloaded" || resp.Header.Get("X-Why") != "overloaded" {
		t.Errorf("after a try without an answer: %d %v %q, want the first try's 503", resp.StatusCode, resp.Header, body)
	}
}

// TestPutBodyRetried: a PUT with a body is retried on another instance,
// which receives the same bytes; a body over the limit is not retried.
func TestPutBodyRetried(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]string{}
	record := func(name string, status int) *upstream {
		return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies[name] += string(b) + "|"
			mu.Unlock()
			w.WriteHeader(status)
		})
	}
	bad, good := record("bad", 502), record("good", 200)
	gw, _ := gatewayFor(t, Upstream{Name: "s", Retries: 1, Retry: Retry{BodyLimit: 64}}, bad.URL, good.URL)
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, gw.URL+"/thing", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 { // round robin: one of the two starts on the bad instance
		if status := put("the same bytes"); status != 200 {
			t.Errorf("PUT: %d", status)
		}
	}
	if bodies["bad"] != "the same bytes|" || bodies["good"] != "the same bytes|the same bytes|" {
		t.Errorf("bodies seen: %q", bodies)
	}
	large := strings.Repeat("x", 100)
	statuses := map[int]int{}
	for range 2 {
		statuses[put(large)]++
	}
	if statuses[502] != 1 || statuses[200] != 1 {
		t.Errorf("a body over the limit: %v, want one 502 (not retried) and one 200", statuses)
	}
}

// TestRetryBudget: when every instance fails, the budget keeps the tries
// under (1 + ratio) × the requests.
func TestRetryBudget(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	gw, _ := gatewayFor(t, Upstream{Name: "s", Retries: 3, Budget: &Budget{},
		Breaker: breaker.New(breaker.Settings{FailureThreshold: 1 << 30}, nil, nil),
		Retry:   Retry{BudgetRatio: 0.2, BodyLimit: 1 << 10}}, up.URL)
	const requests = 200
	for range requests {
		if resp, _ := get(t, gw.URL+"/a"); resp.StatusCode != 500 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	tries := int(up.hits.Load())
	if limit := int(requests*1.2) + 1; tries > limit {
		t.Errorf("%d tries for %d requests, want at most %d", tries, requests, limit)
	}
	if tries <= requests {
		t.Errorf("%d tries for %d requests: the budget allowed no retry at all", tries, requests)
	}
	t.Logf("%d tries for %d requests", tries, requests)
}

// TestDeadline bounds a request across all its tries.
func TestDeadline(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		w.WriteHeader(500)
	})
	gw, _ := gatewayFor(t, Upstream{Name: "s", Retries: 5, Deadline: 150 * time.Millisecond}, up.URL)
	start := time.Now()
	resp, body := get(t, gw.URL+"/a")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("%d %s, want 504", resp.StatusCode, body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s with a deadline of 150ms", took)
	}
}
