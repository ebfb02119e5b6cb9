package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary be a Go process service of the mesh's
// end-to-end test: with COMPOSER_TEST_CALLER set it answers every GET by
// calling $COMPOSER_B_URL/x, and appends the body of every POST (an event
// delivered to it) to $EVENTS_FILE.
func TestMain(m *testing.M) {
	if os.Getenv("COMPOSER_TEST_CALLER") != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
		if err != nil {
			os.Exit(1)
		}
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/health":
			case r.Method == http.MethodPost:
				b, _ := io.ReadAll(r.Body)
				f, err := os.OpenFile(os.Getenv("EVENTS_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				if err == nil {
					f.Write(append(b, '\n'))
					f.Close()
				}
			default:
				resp, err := http.Get(os.Getenv("COMPOSER_B_URL") + "/x")
				if err != nil {
					w.WriteHeader(599)
					return
				}
				defer resp.Body.Close()
				w.WriteHeader(resp.StatusCode)
				io.Copy(w, resp.Body)
			}
		}))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestMeshThroughTheBinary: three processes in two languages. A and C
// (Go) call B (Python) through COMPOSER_B_URL, each with its own breaker;
// B publishes through COMPOSER_EVENTS_URL an event that a route delivers
// to C by name, with source /services/b; a type B does not list is
// refused; an event acknowledged just before a SIGKILL is delivered after
// the restart; a reload that adds a call replaces that caller only.
func TestMeshThroughTheBinary(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed (CI installs it)")
		}
		t.Skip("python3 is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	script, _ := filepath.Abs("testdata/b.py")
	failFile, eventsFile := filepath.Join(dir, "fail"), filepath.Join(dir, "events")
	admin := freePort(t)
	file := filepath.Join(dir, "platform.tsk")
	platform := func(cCalls string) string {
		caller := func(name, calls string) string {
			return fmt.Sprintf("%s { kind: \"process\", command: [%q, \"-test.run=^$\"], routes: [\"/%s\", \"/%s/*path\"], calls: %s, env: { COMPOSER_TEST_CALLER: \"1\", EVENTS_FILE: %q } }\n",
				name, os.Args[0], name, name, calls, eventsFile)
		}
		return fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: "data"
[services]
%s%sb { kind: "process", command: ["python3", %q], routes: ["/b/*path"], strip_prefix: true, publishes: ["invoice.paid"], env: { FAIL_FILE: %q } }
[health_checks]
interval: "200ms"
[circuit_breaker]
failure_threshold: 100
recovery_timeout: "1m"
b { failure_threshold: 2 }
[event_routes]
paid { topic: "invoice.paid", to: ["c/events"] }
`, admin, caller("a", `["b"]`), caller("c", cCalls), script, failFile)
	}
	writePlatform(t, file, platform(`["b"]`))
	comp := startBinary(t, bin, file)
	get := func(path string) (int, string) { return httpDo(t, "GET", comp.gateway+path, "") }
	defer func() {
		if t.Failed() {
			_, p := httpDo(t, "GET", comp.admin+"/v1/processes", "")
			sa, ba := get("/a")
			t.Logf("processes: %s\n/a: %d %s", p, sa, ba)
		}
	}()
	waitFor(t, "a, b and c serving", func() bool {
		p := processes(t, comp.admin)
		for _, name := range []string{"a", "b", "c"} {
			if len(p[name]) != 1 || p[name][0].Health != "healthy" {
				return false
			}
		}
		return true
	})
	if _, body := get("/a"); body != "b" {
		t.Fatalf("a -> b: %q", body)
	}
	breakers := func() string { _, body := httpDo(t, "GET", comp.admin+"/v1/breakers", ""); return body }
	os.WriteFile(failFile, nil, 0o644)
	for range 3 {
		get("/a")
	}
	br := breakers()
	if !strings.Contains(br, `"a->b": {`+"\n"+`    "state": "open"`) || !strings.Contains(br, `"c->b": {`+"\n"+`    "state": "closed"`) {
		t.Fatalf("after a's calls failed: %s", br)
	}
	os.Remove(failFile)

	// B publishes; the route delivers to C by name.
	if status, body := httpDo(t, "POST", comp.gateway+"/b/publish?type=invoice.paid", ""); status != 202 {
		t.Fatalf("b publishes: %d %s", status, body)
	}
	waitFor(t, "the event at c", func() bool {
		b, _ := os.ReadFile(eventsFile)
		return strings.Contains(string(b), `"source":"/services/b"`)
	})
	if status, _ := httpDo(t, "POST", comp.gateway+"/b/publish?type=order.created", ""); status != 403 {
		t.Errorf("a type b does not publish: %d", status)
	}

	// Acknowledged, then a SIGKILL: delivered after the restart.
	status, body := httpDo(t, "POST", comp.gateway+"/b/publish?type=invoice.paid", "")
	comp.cmd.Process.Kill()
	<-comp.exited
	if status != 202 {
		t.Fatalf("b publishes: %d %s", status, body)
	}
	id := between(body, `"ids": ["`, `"`)
	comp = startBinary(t, bin, file)
	defer comp.stop(t)
	waitFor(t, "the acknowledged event delivered after the restart", func() bool {
		b, _ := os.ReadFile(eventsFile)
		return strings.Contains(string(b), id)
	})

	// A reload that adds a call to c replaces c, and nothing else.
	pids := func() map[string]int {
		out := map[string]int{}
		for name, list := range processes(t, comp.admin) {
			out[name] = list[0].PID
		}
		return out
	}
	waitFor(t, "every process running", func() bool { p := pids(); return p["a"] > 0 && p["b"] > 0 && p["c"] > 0 })
	before := pids()
	writePlatform(t, file, platform(`["b", "a"]`))
	waitFor(t, "c replaced", func() bool { p := pids(); return p["c"] > 0 && p["c"] != before["c"] })
	after := pids()
	if after["a"] != before["a"] || after["b"] != before["b"] {
		t.Errorf("the reload replaced more than c: %v -> %v", before, after)
	}
	_, st := httpDo(t, "GET", comp.admin+"/v1/status", "")
	var reloadStatus struct {
		LastReload struct {
			Actions []struct{ Action, Kind, Name string }
		} `json:"last_reload"`
	}
	json.Unmarshal([]byte(st), &reloadStatus)
	replaced := false
	for _, a := range reloadStatus.LastReload.Actions {
		if a.Name != "c" && a.Name != "c->a" {
			t.Errorf("the reload did more than c: %+v", a)
		}
		replaced = replaced || a.Action == "replace" && a.Kind == "process" && a.Name == "c"
	}
	if !replaced {
		t.Errorf("the reload's actions do not replace c: %+v", reloadStatus.LastReload.Actions)
	}
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}
