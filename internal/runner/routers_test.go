package runner

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoutersByFirstSegmentRouteAsOne: routes spread over routers by
// their first segment answer every request as one gin router of them all
// would: the route that matches, trailing-slash redirects (301 for GET,
// 307 otherwise) and 404s, for hosts of their own too.
func TestRoutersByFirstSegmentRouteAsOne(t *testing.T) {
	r := &Runner{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	routes := []string{"/", "/users", "/users/:id", "/users/:id/orders", "/orders/*path", "/a/b/c", "/files/*p",
		"/svc1/*path", "/svc10/x", "/v1/users/:id", "/v1/orders", "api.example.com/users", "api.example.com/only/*rest"}
	var all []mounted
	for _, route := range routes {
		host, path := "", route
		if i := strings.IndexByte(route, '/'); i > 0 {
			host, path = route[:i], route[i:]
		}
		name := route
		all = append(all, mounted{host: host, path: path, service: name, from: &serviceMount{},
			h: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })})
	}
	router := func(n int) http.Handler {
		g := &generation{routers: map[routerKey]*bucketRouter{}}
		return hostRouter{def: r.segmentRouter(g, nil, "", all, n),
			hosts: map[string]http.Handler{"api.example.com": r.segmentRouter(g, nil, "api.example.com", all, n)}}
	}
	one, split := router(1), router(8)
	requests := []string{"/", "/users", "/users/", "/users/5", "/users/5/", "/users/5/orders", "/users/5/orders/",
		"/orders", "/orders/", "/orders/x/y", "/a/b/c", "/a/b/c/", "/a/b", "/a", "/files", "/files/", "/svc1", "/svc1/z",
		"/svc10/x", "/svc10/x/", "/svc10", "/svc100/x", "/v1/users/3", "/v1/users/3/", "/v1/orders/", "/nope", "/nope/", "//x"}
	for _, method := range []string{"GET", "POST"} {
		for _, host := range []string{"127.0.0.1", "api.example.com"} {
			for _, path := range append(requests, "/only/a", "/only") {
				answer := func(h http.Handler) string {
					req := httptest.NewRequest(method, "http://"+host+path, nil)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					return fmt.Sprintf("%d %s %s", w.Code, w.Header().Get("Location"), w.Body.String())
				}
				if a, b := answer(one), answer(split); a != b {
					t.Errorf("%s %s%s: one router %q, by first segment %q", method, host, path, a, b)
				}
			}
		}
	}
}

// TestReloadKeepsUnchangedRouters: a reload that changes one service of
// many keeps the other services' handlers and every router that holds
// none of its routes; the changed service serves its new settings, the
// others go on serving.
func TestReloadKeepsUnchangedRouters(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { io.WriteString(w, req.URL.Path) }))
	defer upstream.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	platform := func(changed string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "[composer]\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n[health_checks]\ninterval: \"1h\"\n[services]\n", filepath.Join(dir, "data"))
		for i := range 200 {
			extra := ""
			if i == 7 {
				extra = changed
			}
			fmt.Fprintf(&b, "svc%d { kind: \"http\", instances: [%q], routes: [\"/svc%d/*path\"%s] }\n", i, upstream.URL, i, extra)
		}
		return b.String()
	}
	os.WriteFile(file, []byte(platform("")), 0o644)
	r := startFile(t, file)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + r.GatewayAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/seven/x"); code != http.StatusNotFound {
		t.Fatalf("before the edit, /seven/x answers %d", code)
	}
	before := r.gen()
	if len(before.routers) < 8 {
		t.Fatalf("%d routers for 200 services: the routes are not spread", len(before.routers))
	}
	os.WriteFile(file, []byte(platform(`, "/seven/*path"`)), 0o644)
	if res := r.Reload(); !res.OK {
		t.Fatal(res.Diagnostics)
	}
	after := r.gen()
	for name, m := range after.mounts {
		if kept := before.mounts[name] == m; kept != (name != "svc7") {
			t.Errorf("%s: handlers kept %v", name, kept)
		}
	}
	made := 0
	for key, br := range after.routers {
		if before.routers[key] != br {
			made++
		}
	}
	if made == 0 || made > 2 {
		t.Errorf("%d of %d routers made again; want those of svc7's two routes' first segments", made, len(after.routers))
	}
	for path, want := range map[string]string{"/seven/x": "/seven/x", "/svc7/y": "/svc7/y", "/svc8/z": "/svc8/z", "/svc199/": "/svc199/"} {
		if code, body := get(path); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	if code, _ := get("/svc200/x"); code != http.StatusNotFound {
		t.Errorf("GET /svc200/x: %d, want 404", code)
	}
}
