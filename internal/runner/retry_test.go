package runner

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRetriesThroughThePlatform: the platform file's retry keys reach the
// request path: a 500 survives the retries intact, a PUT's body reaches
// the second instance unchanged, and max_body_size answers 413.
func TestRetriesThroughThePlatform(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	instance := func(name string, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen[name] = append(seen[name], r.Method+" "+string(b))
			mu.Unlock()
			w.Header().Set("X-Instance", name)
			w.WriteHeader(status)
			fmt.Fprintf(w, "%s says %d", name, status)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	broken, fine := instance("broken", 500), instance("fine", 200)
	p := startPlatform(t, fmt.Sprintf(`[services]
lonely { kind: "http", instances: [%q], routes: ["/lonely"], retries: 2, retry_backoff: "1ms", max_retry_backoff: "2ms" }
pair { kind: "http", instances: [%q, %q], routes: ["/pair"], retries: 1, retry_backoff: "1ms", max_body_size: 64 }
[circuit_breaker]
failure_threshold: 100
`, broken.URL, broken.URL, fine.URL))
	gw := "http://" + p.r.GatewayAddr()
	status, body := call(t, "GET", gw+"/lonely", "")
	if status != 500 || body != "broken says 500" {
		t.Errorf("the last real answer: %d %q", status, body)
	}
	mu.Lock()
	if n := len(seen["broken"]); n != 3 {
		t.Errorf("%d tries of the lone instance, want 3", n)
	}
	seen = map[string][]string{}
	mu.Unlock()
	for range 2 {
		if status, body := call(t, "PUT", gw+"/pair", "the same bytes"); status != 200 {
			t.Errorf("PUT: %d %s", status, body)
		}
	}
	mu.Lock()
	if got := strings.Join(seen["fine"], ","); got != "PUT the same bytes,PUT the same bytes" {
		t.Errorf("the fine instance saw %q", got)
	}
	mu.Unlock()
	if status, body := call(t, "PUT", gw+"/pair", strings.Repeat("x", 65)); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Errorf("a body over max_body_size: %d %s", status, body)
	}
}

// TestShopWithoutPublicUserLookups: orders checks users in process, so
// the shop works when users' public routes are reduced to ["/users"].
func TestShopWithoutPublicUserLookups(t *testing.T) {
	p := startPlatform(t, "[services]\nusers { routes: [\"/users\"] }\n")
	gw := "http://" + p.r.GatewayAddr()
	if status, _ := call(t, "GET", gw+"/users/1", ""); status != 404 {
		t.Fatalf("GET /users/1 is public: %d", status)
	}
	id := createUser(t, gw, "ada")
	status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":5}]}`, id))
	if status != 201 {
		t.Fatalf("an order of a user that exists: %d %s", status, body)
	}
	if status, _ := call(t, "POST", gw+"/orders", `{"user_id":999,"items":[{"product_id":"a","quantity":1,"price":5}]}`); status != 422 {
		t.Errorf("an order of a user that does not exist: %d", status)
	}
}

// TestCutAnswerIsNotWhole: an instance that dies half-way through an
// answer leaves the client with a broken answer (a reset connection),
// not one that looks complete: chunked, the last chunk never comes.
func TestCutAnswerIsNotWhole(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.Write([]byte("the first half"))
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	p := startPlatform(t, fmt.Sprintf("[services]\ncut { kind: \"http\", instances: [%q], routes: [\"/cut\"] }\n", srv.URL))
	resp, err := http.Get("http://" + p.r.GatewayAddr() + "/cut")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("a cut answer read as whole: %q", body)
	}
}

// TestTraversalIsRoutedAsItResolves: a path that climbs out of its route
// is routed as the path it resolves to, what reaches an instance holds
// no dot segment, and an encoded slash is refused.
func TestTraversalIsRoutedAsItResolves(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		mu.Lock()
		seen = append(seen, r.URL.EscapedPath())
		mu.Unlock()
		io.WriteString(w, "billing")
	}))
	t.Cleanup(billing.Close)
	p := startPlatform(t, fmt.Sprintf("[services]\nbilling { kind: \"http\", instances: [%q], routes: [\"/billing/*path\"], strip_prefix: true }\n", billing.URL))
	gw := "http://" + p.r.GatewayAddr()
	for _, tc := range []struct {
		path, status, body, instance string
	}{
		{"/billing/../users/1", "404", `no user 1`, ""}, // users answered: the path resolved out of billing
		{"/billing/%2e%2e/users/1", "404", `no user 1`, ""},
		{"/billing/invoices/../receipts/./7", "200", "billing", "/receipts/7"},
		{"/billing//a///b", "200", "billing", "/a/b"},
		{"/billing/..%2f..%2fadmin", "400", "encoded slash", ""},
		{"/billing/a%2Fb", "400", "encoded slash", ""},
		{"/billing/report%20final.pdf", "200", "billing", "/report%20final.pdf"},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		status, body := call(t, "GET", gw+tc.path, "")
		if fmt.Sprint(status) != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s: %d %s, want %s %q", tc.path, status, body, tc.status, tc.body)
		}
		mu.Lock()
		if tc.instance != "" && (len(seen) != 1 || seen[0] != tc.instance) {
			t.Errorf("GET %s reached billing as %q, want %q", tc.path, seen, tc.instance)
		}
		if tc.instance == "" && len(seen) != 0 {
			t.Errorf("GET %s reached billing as %q", tc.path, seen)
		}
		mu.Unlock()
	}
}
