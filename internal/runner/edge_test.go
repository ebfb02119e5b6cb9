package runner

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAuthAndRateLimits: a JWT policy in front of an http service (401
// with WWW-Authenticate for a missing, expired or foreign token; the
// subject forwarded, a client's own X-User-Id dropped), [auth] default
// on a builtin and `auth: "none"` opting out, API keys, and rate limits:
// 429 after exactly the allowed requests, keyed by the client's address
// from X-Forwarded-For only through a trusted proxy, or by the JWT's
// subject.
func TestAuthAndRateLimits(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		mu.Lock()
		seen = append(seen, r.Header.Get("X-User-Id"))
		mu.Unlock()
		io.WriteString(w, "billed")
	}))
	t.Cleanup(billing.Close)
	p := startPlatformWith(t, `trusted_proxies: ["127.0.0.1"]`, fmt.Sprintf(`
[services]
billing { kind: "http", instances: [%q], routes: ["/billing/*path"], auth: "users", rate_limit { requests: 3, per: "1m", key: "jwt:sub" } }
partners { kind: "http", instances: [%q], routes: ["/partners/*path"], auth: "keys", rate_limit { requests: 2, per: "1m" } }
notifications { auth: "none" }
[auth]
default: "users"
users { kind: "jwt", secret: "jwt-s3cret", audience: "shop", forward_claims { sub: "X-User-Id" } }
keys { kind: "api_key", keys: ["partner-key-1"] }
`, billing.URL, billing.URL))
	gw := "http://" + p.r.GatewayAddr()
	token := func(sub string, exp time.Duration, aud string) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "aud": aud, "exp": time.Now().Add(exp).Unix()}).SignedString([]byte("jwt-s3cret"))
		return s
	}
	do := func(path string, h ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", gw+path, nil)
		for i := 0; i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"no token", nil, 401},
		{"expired", []string{"Authorization", "Bearer " + token("ada", -time.Hour, "shop")}, 401},
		{"another audience", []string{"Authorization", "Bearer " + token("ada", time.Hour, "billing")}, 401},
	} {
		resp := do("/billing/1", tc.header...)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="users"`) {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	ada := "Bearer " + token("ada", time.Hour, "shop")
	for i := range 3 {
		resp := do("/billing/1", "Authorization", ada, "X-User-Id", "root")
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("ada's call %d: %d, remaining %q", i+1, resp.StatusCode, resp.Header.Get("RateLimit-Remaining"))
		}
	}
	if resp := do("/billing/1", "Authorization", ada); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("ada's fourth call: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := do("/billing/1", "Authorization", "Bearer "+token("bob", time.Hour, "shop")); resp.StatusCode != 200 {
		t.Errorf("bob, with his own bucket: %d", resp.StatusCode)
	}
	mu.Lock()
	if got := strings.Join(seen, ","); got != "ada,ada,ada,bob" {
		t.Errorf("billing saw X-User-Id %q", got)
	}
	mu.Unlock()
	// [auth] default covers users; notifications opted out.
	if resp := do("/users/1"); resp.StatusCode != 401 {
		t.Errorf("/users/1 without a token under [auth] default: %d", resp.StatusCode)
	}
	if resp := do("/users/1", "Authorization", ada); resp.StatusCode != 404 {
		t.Errorf("/users/1 with a token: %d", resp.StatusCode)
	}
	if resp := do("/notifications"); resp.StatusCode != 200 {
		t.Errorf("/notifications with auth none: %d", resp.StatusCode)
	}
	// API keys, and a limit by client address: X-Forwarded-For counts
	// because the test's loopback address is a trusted proxy.
	if resp := do("/partners/x", "X-Api-Key", "wrong"); resp.StatusCode != 401 {
		t.Errorf("a wrong API key: %d", resp.StatusCode)
	}
	for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
		for i := range 2 {
			if resp := do("/partners/x", "X-Api-Key", "partner-key-1", "X-Forwarded-For", client); resp.StatusCode != 200 {
				t.Fatalf("%s's call %d: %d", client, i+1, resp.StatusCode)
			}
		}
		if resp := do("/partners/x", "X-Api-Key", "partner-key-1", "X-Forwarded-For", client); resp.StatusCode != 429 {
			t.Errorf("%s's third call: %d", client, resp.StatusCode)
		}
	}
	// A refused attempt counts too (the limit by address comes first).
	if resp := do("/partners/x", "X-Api-Key", "guess", "X-Forwarded-For", "198.51.100.1"); resp.StatusCode != 429 {
		t.Errorf("a guess from a limited address: %d", resp.StatusCode)
	}
}

// TestHeadersAndPathRewrite: request_headers and response_headers set and
// remove on the way, and path_rewrite replaces the route's prefix.
func TestHeadersAndPathRewrite(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		mu.Lock()
		got = r.Clone(r.Context())
		mu.Unlock()
		w.Header().Set("Server", "legacy/1.0")
		w.Header().Set("X-Internal", "secret")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(inst.Close)
	p := startPlatform(t, fmt.Sprintf(`
[services]
legacy { kind: "http", instances: [%q], routes: ["/legacy/*path"], path_rewrite: "/api/v2",
  request_headers { set { X-Tenant: "shop" }, remove: ["Cookie"] },
  response_headers { set { X-Frame-Options: "DENY" }, remove: ["Server", "X-Internal"] } }
`, inst.URL))
	req, _ := http.NewRequest("GET", "http://"+p.r.GatewayAddr()+"/legacy/orders/7?x=1", nil)
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("X-Tenant", "spoofed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Server") != "" || resp.Header.Get("X-Internal") != "" {
		t.Errorf("the answer's headers: %v", resp.Header)
	}
	mu.Lock()
	defer mu.Unlock()
	if got == nil {
		t.Fatal("the instance was not called")
	}
	if got.URL.Path != "/api/v2/orders/7" || got.URL.RawQuery != "x=1" || got.Header.Get("X-Tenant") != "shop" || got.Header.Get("Cookie") != "" {
		t.Errorf("the instance saw %s?%s with X-Tenant %q, Cookie %q", got.URL.Path, got.URL.RawQuery, got.Header.Get("X-Tenant"), got.Header.Get("Cookie"))
	}
}

// TestHostRoutes: a route that names its host is matched on the Host
// header (port and case aside), beside the host-less routes, which serve
// every host; the same path may be routed by host to another service.
func TestHostRoutes(t *testing.T) {
	named := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(srv.Close)
		return srv
	}
	api, web := named("api"), named("web")
	p := startPlatform(t, fmt.Sprintf(`
[services]
api { kind: "http", instances: [%q], routes: ["api.shop.test/v1/*path", "API.shop.test/status"] }
web { kind: "http", instances: [%q], routes: ["/v1/*path"] }
`, api.URL, web.URL))
	gw := "http://" + p.r.GatewayAddr()
	for _, tc := range []struct{ host, path, want string }{
		{"api.shop.test", "/v1/x", "api"},
		{"Api.Shop.Test:8443", "/v1/x", "api"},
		{"api.shop.test", "/status", "api"},
		{"www.shop.test", "/v1/x", "web"},
		{"", "/v1/x", "web"},
		{"api.shop.test", "/users/1", `no user 1`}, // a host-less route serves every host
		{"www.shop.test", "/status", "no route"},
	} {
		req, _ := http.NewRequest("GET", gw+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), tc.want) {
			t.Errorf("Host %q %s: %d %s, want %q", tc.host, tc.path, resp.StatusCode, body, tc.want)
		}
	}
}
