package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// processStatus is an entry of /v1/processes.
type processStatus struct {
	Service, State, Error, Health, Blocked string
	Instance, PID, Restarts, Port          int
	Started                                time.Time
}

func processes(t *testing.T, admin string) map[string][]processStatus {
	t.Helper()
	_, body := httpDo(t, "GET", admin+"/v1/processes", "")
	var list []processStatus
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("/v1/processes: %v: %s", err, body)
	}
	out := map[string][]processStatus{}
	for _, p := range list {
		out[p.Service] = append(out[p.Service], p)
	}
	return out
}

// buildTestApp builds the small HTTP program the supervisor's tests use.
func buildTestApp(t *testing.T, dir string) string {
	t.Helper()
	app := filepath.Join(dir, "testapp")
	if out, err := exec.Command("go", "build", "-o", app, "../../internal/supervisor/testdata/testapp").CombinedOutput(); err != nil {
		t.Fatalf("build testapp: %v\n%s", err, out)
	}
	return app
}

func writePlatform(t *testing.T, file, src string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProcessServices starts a platform of real processes with the
// composer binary: start order with health gating and completion,
// balancing over instances, `composer ps`, logs, a crash restarted with
// backoff up to its limit, a dependency that never becomes healthy, a
// rolling restart under load without a failed request, and a SIGKILL of
// the composer that leaves no process behind.
func TestProcessServices(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	app := buildTestApp(t, dir)
	file := filepath.Join(dir, "platform.tsk")
	adminPort, fixedPort := freePort(t), freePort(t)
	platform := func(apiName string) string {
		return fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: "data"
[services]
db { kind: "process", command: [%q], env: { APP_NAME: "db", APP_READY_AFTER: "700ms" }, health_endpoint: "/health" }
api {
    kind: "process"
    command: [%q, "--port", "${PORT}"]
    env: { APP_NAME: %q }
    instances: 2
    routes: ["/api/*path"]
    strip_prefix: true
    health_endpoint: "/health"
    depends_on: ["db"]
}
migrate { kind: "process", command: [%q], restart: "no", env: { APP_NAME: "migrate", APP_EXIT_AFTER: "300ms", APP_EXIT_CODE: "0" } }
worker { kind: "process", command: [%q], env: { APP_NAME: "worker" }, depends_on { migrate: "completed" } }
crashy { kind: "process", command: [%q], restart: "on-failure", restart_backoff: "50ms", max_restarts: 3, env: { APP_EXIT_AFTER: "100ms" } }
never { kind: "process", command: [%q], env: { APP_READY_AFTER: "1h" }, health_endpoint: "/health", start_timeout: "1s" }
fixed { kind: "process", command: [%q], port: %d, env: { APP_NAME: "fixed-%s" }, routes: ["/fixed/*path"], strip_prefix: true, health_endpoint: "/health" }
blocked { kind: "process", command: [%q], depends_on: ["never"] }
[health_checks]
interval: "100ms"
timeout: "1s"
# Two failed probes in a row before an instance is out: on a loaded CI
# machine one probe of each new instance can fail at once (seen: two 503s
# in a rolling restart), which is not what the rolling restart tests.
retries: 2
`, adminPort, app, app, apiName, app, app, app, app, app, fixedPort, apiName, app)
	}
	writePlatform(t, file, platform("v1"))
	comp := startBinary(t, bin, file)

	// Before api is up, the gateway answers 503 (no healthy instance),
	// which does not count against api's breaker; it never tries an
	// instance that is not there.
	if status, body := httpDo(t, "GET", comp.gateway+"/api/", ""); status != 503 {
		t.Errorf("api before it started: %d %s", status, body)
	}
	// Start order: api after db is healthy (700 ms after its start);
	// worker after migrate completed.
	var ps map[string][]processStatus
	waitFor(t, "api and worker running", func() bool {
		ps = processes(t, comp.admin)
		return len(ps["api"]) == 2 && ps["api"][0].State == "running" && ps["api"][1].State == "running" &&
			len(ps["worker"]) == 1 && ps["worker"][0].State == "running"
	})
	if db, api := ps["db"][0].Started, ps["api"][0].Started; api.Sub(db) < 600*time.Millisecond {
		t.Errorf("api started %v after db; it had to wait for db to be healthy (700 ms)", api.Sub(db))
	}
	if m, w := ps["migrate"][0], ps["worker"][0]; m.State != "exited" || w.Started.Sub(m.Started) < 250*time.Millisecond {
		t.Errorf("worker started %v after migrate (%s); it had to wait for migrate to complete", w.Started.Sub(m.Started), m.State)
	}

	// The gateway balances over api's two instances.
	pids := map[string]bool{}
	waitFor(t, "both api instances answering", func() bool {
		status, body := httpDo(t, "GET", comp.gateway+"/api/", "")
		if status == 200 {
			pids[body] = true
		}
		return len(pids) == 2
	})

	if _, body := httpDo(t, "GET", comp.admin+"/v1/breakers", ""); !regexpMatch(`"api": \{\s*"state": "closed"`, body) {
		t.Errorf("api's breaker after the start: %s", body)
	}
	// A crash loop ends after max_restarts, with backoff, counted.
	waitFor(t, "crashy given up", func() bool {
		c := processes(t, comp.admin)["crashy"]
		return len(c) == 1 && c[0].State == "failed"
	})
	if c := processes(t, comp.admin)["crashy"][0]; c.Restarts != 3 || !strings.Contains(c.Error, "exit status 3") {
		t.Errorf("crashy: %+v", c)
	}
	if _, metrics := httpDo(t, "GET", comp.admin+"/metrics", ""); !strings.Contains(metrics, `composer_process_restarts_total{instance="crashy.1",service="crashy"} 3`) {
		t.Errorf("crashy's restarts are not in /metrics")
	}
	// A dependency that never becomes healthy: reported, not started.
	waitFor(t, "blocked reported", func() bool {
		b := processes(t, comp.admin)["blocked"]
		return len(b) == 1 && strings.Contains(b[0].Blocked, "never is not healthy after 1s")
	})
	if b := processes(t, comp.admin)["blocked"][0]; b.PID != 0 || b.State != "waiting" {
		t.Errorf("blocked was started: %+v", b)
	}

	// composer ps and the logs.
	out, err := exec.Command(bin, "ps", "-f", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERVICE") || !regexpMatch(`api\s+process\s+1 \(:\d+\)\s+running\s+\d+\s+0\s+healthy`, string(out)) ||
		!strings.Contains(string(out), "not started: never is not healthy") {
		t.Errorf("composer ps: %v\n%s", err, out)
	}
	_, logs := httpDo(t, "GET", comp.admin+"/v1/services/api/logs", "")
	if !strings.Contains(logs, "v1 starting on port") || !strings.Contains(logs, `"stream": "stderr"`) {
		t.Errorf("api's logs: %s", logs)
	}

	// Rolling restart under steady load: no request fails.
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ { // bounded; ends at stop
				select {
				case <-stop:
					return
				default:
				}
				status, body := httpDo(t, "GET", comp.gateway+"/api/", "")
				sent.Add(1)
				if status != 200 {
					failed.Add(1)
					t.Logf("failed: %d %s", status, body)
				}
			}
		}()
	}
	oldPIDs := []int{ps["api"][0].PID, ps["api"][1].PID}
	dbPID := ps["db"][0].PID
	writePlatform(t, file, platform("v2"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := httpDo(t, "GET", comp.gateway+"/api/", "")
		if strings.HasPrefix(body, "v2 ") {
			break
		}
		if time.Now().After(deadline) {
			_, st := httpDo(t, "GET", comp.admin+"/v1/status", "")
			t.Fatalf("the new api is not serving: %s\n%s", body, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("rolling restart: %d requests, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 || sent.Load() < 50 {
		t.Errorf("rolling restart: %d of %d requests failed", failed.Load(), sent.Load())
	}
	waitFor(t, "the old api instances stopped", func() bool { return !alive(oldPIDs[0]) && !alive(oldPIDs[1]) })
	// A process on a fixed port cannot run beside its replacement: the
	// new one starts once the old one has stopped.
	waitFor(t, "the new fixed-port process", func() bool {
		_, body := httpDo(t, "GET", comp.gateway+"/fixed/", "")
		return strings.HasPrefix(body, "fixed-v2 ")
	})
	if ps := processes(t, comp.admin); ps["db"][0].PID != dbPID {
		t.Errorf("db was restarted by an edit of api")
	}

	// A service removed from the file is stopped.
	workerPID := processes(t, comp.admin)["worker"][0].PID
	src, _ := os.ReadFile(file)
	writePlatform(t, file, regexp.MustCompile(`(?m)^worker .*\n`).ReplaceAllString(string(src), ""))
	waitFor(t, "the removed worker stopped", func() bool { return !alive(workerPID) })
	if _, ok := processes(t, comp.admin)["worker"]; ok {
		t.Error("the removed worker is still listed")
	}

	// SIGKILL of the composer: no process is left.
	var all []int
	for _, list := range processes(t, comp.admin) {
		for _, p := range list {
			if p.PID > 0 {
				all = append(all, p.PID)
			}
		}
	}
	comp.cmd.Process.Kill()
	<-comp.exited
	waitFor(t, "every process gone with the composer", func() bool {
		for _, pid := range all {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

// alive says whether a process runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
