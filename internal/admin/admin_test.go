package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/supervisor"
)

// fake is a Platform whose answers the test sets.
type fake struct {
	published []store.Event
	publish   error
	reload    Reload
	done      chan struct{}
}

func (f *fake) Status() Status {
	return Status{Generation: 3, Bus: BusState{Kind: "embedded", State: "ok"}}
}
func (f *fake) History() []Reload         { return []Reload{f.reload} }
func (f *fake) Model() *composer.Resolved { return composer.Resolve(composer.Defaults(), nil) }
func (f *fake) Services() []Service       { return []Service{{Name: "billing", Kind: "http"}} }
func (f *fake) Breakers() map[string]breaker.Snapshot {
	return map[string]breaker.Snapshot{"billing": {State: breaker.Open}}
}
func (f *fake) Processes() []Process { return nil }
func (f *fake) Logs(service string) ([]Log, bool) {
	if service != "api" {
		return nil, false
	}
	t := time.Unix(100, 0)
	return []Log{
		{Instance: 2, Line: supervisor.Line{Time: t.Add(time.Second), Stream: "stdout", Text: "second"}},
		{Instance: 1, Line: supervisor.Line{Time: t, Stream: "stdout", Text: "first"}},
	}, true
}
func (f *fake) Events(store.Query) ([]store.Event, error) { return nil, nil }
func (f *fake) Publish(_ context.Context, e store.Event) error {
	f.published = append(f.published, e)
	return f.publish
}
func (f *fake) Replay(_ context.Context, route string, _ time.Time) (ReplayResult, error) {
	return ReplayResult{}, ErrNoRoute(route)
}
func (f *fake) Reload() Reload           { return f.reload }
func (f *fake) Counts() map[string]int64 { return nil }
func (f *fake) Metrics() http.Handler    { return nil }
func (f *fake) Done() <-chan struct{}    { return f.done }
func (f *fake) Registry() http.Handler   { return nil }
func (f *fake) Mesh() []MeshPair {
	return []MeshPair{{Caller: "a", Target: "b", Address: "127.0.0.1:1"}}
}

func TestAdminAPI(t *testing.T) {
	f := &fake{done: make(chan struct{}), reload: Reload{OK: false, Diagnostics: []string{"platform.tsk:1:1: bad"}}}
	srv := httptest.NewServer(Handler(f, ""))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		has                string
	}{
		{"GET", "/v1/status", "", 200, `"generation": 3`},
		{"GET", "/v1/mesh", "", 200, `"caller": "a"`},
		{"GET", "/readyz", "", 200, `"status": "ready"`},
		{"GET", "/v1/breakers", "", 200, `"state": "open"`},
		{"GET", "/v1/services/api/logs", "", 200, `"text": "first"`},
		{"GET", "/v1/services/api/logs?instance=2", "", 200, `"text": "second"`},
		{"GET", "/v1/services/nope/logs", "", 404, `no process service \"nope\"`},
		{"GET", "/v1/events?after=x", "", 400, "after: an event's seq"},
		{"GET", "/v1/events?since=yesterday", "", 400, "since: an RFC 3339 time"},
		{"POST", "/v1/events?type=order.created", "{not json", 400, "with the event's JSON data"},
		{"POST", "/v1/events", "{}", 400, "POST /v1/events?type=TOPIC"},
		{"POST", "/v1/events?type=order.created&subject=7", `{"total_amount": 1}`, 202, `"subject": "7"`},
		{"POST", "/v1/events/replay?route=nope", "", 404, `no event route \"nope\"`},
		{"POST", "/v1/events/replay?route=x&from=soon", "", 400, "from: an RFC 3339 time"},
		{"POST", "/v1/reload", "", 422, "platform.tsk:1:1: bad"},
		{"GET", "/metrics", "", 404, ""},
		{"GET", "/v1/dashboard", "", 200, `"billing": "open"`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.has) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.has)
		}
	}
	if len(f.published) != 1 || f.published[0].Type != "order.created" {
		t.Errorf("published %+v", f.published)
	}
	// A bus that refuses: 503.
	f.publish = errors.New("brokers down")
	resp, err := http.Post(srv.URL+"/v1/events?type=a", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("publish on a bus that refuses: %d", resp.StatusCode)
	}
}

// TestAdminToken: with a token, the admin API answers only requests that
// carry it (or the dashboard's cookie, after the login), but the probes;
// pprof answers loopback clients only.
func TestAdminToken(t *testing.T) {
	f := &fake{done: make(chan struct{})}
	h := Handler(f, "s3cret-token")
	srv := httptest.NewServer(h)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, auth string, cookie *http.Cookie, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if method == "POST" && strings.HasPrefix(path, "/dashboard/login") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/v1/status", "", 401},
		{"GET", "/v1/status", "Bearer wrong", 401},
		{"GET", "/v1/status", "Basic s3cret-token", 401},
		{"POST", "/v1/reload", "", 401},
		{"GET", "/v1/status", "Bearer s3cret-token", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/dashboard/", "", 303},
		{"GET", "/dashboard/login", "", 200},
		{"GET", "/debug/pprof/", "Bearer s3cret-token", 200},
	} {
		resp := do(tc.method, tc.path, tc.auth, nil, "")
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s (%q): %d, want %d", tc.method, tc.path, tc.auth, resp.StatusCode, tc.status)
		}
		if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", tc.method, tc.path)
		}
	}
	if resp := do("POST", "/dashboard/login", "", nil, "token=guess"); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("a wrong login: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp := do("POST", "/dashboard/login", "", nil, "token=s3cret-token")
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("the login: %d %v", resp.StatusCode, resp.Cookies())
	}
	cookie := resp.Cookies()[0]
	if strings.Contains(cookie.Value, "s3cret") || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("the session cookie: %+v", cookie)
	}
	if resp := do("GET", "/v1/status", "", cookie, ""); resp.StatusCode != 200 {
		t.Errorf("with the session cookie: %d", resp.StatusCode)
	}
	// The profiler, asked from another host, even with the token.
	req := httptest.NewRequest("GET", "/debug/pprof/", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	req.Header.Set("Authorization", "Bearer s3cret-token")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 403 {
		t.Errorf("pprof from another host: %d", w.Code)
	}
}
