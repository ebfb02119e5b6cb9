package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var testApp string

// TestMain builds testdata/testapp, the program the tests supervise.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "supervisor-test")
	if err != nil {
		panic(err)
	}
	testApp = filepath.Join(dir, "testapp")
	if out, err := exec.Command("go", "build", "-o", testApp, "./testdata/testapp").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build testapp: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func app(*testing.T) string { return testApp }

// aliveNotZombie says whether a process runs (a zombie waits only for
// its parent to read its status).
func aliveNotZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// safeBuffer is an io.Writer for the prefixed output.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitState(t *testing.T, p *Process, want State) Status {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		ch := p.Changed()
		if st := p.Status(); st.State == want {
			return st
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: state %s, want %s", p.Name(), p.Status().State, want)
		}
	}
}

func get(port int, path string) (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitServing(t *testing.T, port int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, body := get(port, "/"); code == 200 {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestRunsWithPortEnvAndOutput(t *testing.T) {
	out := &safeBuffer{}
	port := freePort(t)
	p := New(Spec{Service: "api", Command: []string{app(t), "--port", "${PORT}"}, Env: map[string]string{"APP_NAME": "api-${PORT}"}}, 1, port, out, "")
	p.Start()
	defer p.Stop(context.Background())
	body := waitServing(t, port)
	if !strings.HasPrefix(body, fmt.Sprintf("api-%d ", port)) {
		t.Fatalf("GET / = %q", body)
	}
	st := p.Status()
	if st.State != Running || st.PID == 0 || st.Port != port {
		t.Fatalf("status %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "api.1 | a line on stderr") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("api.1 | api-%d starting on port %d", port, port)) {
		t.Errorf("output: %q", out.String())
	}
	streams := map[string]string{}
	for _, l := range p.Logs() {
		streams[l.Stream] += l.Text
	}
	if !strings.Contains(streams["stdout"], "starting on port") || streams["stderr"] != "a line on stderr" {
		t.Errorf("logs by stream %q", streams)
	}
}

func TestCrashRestartedWithBackoffUpToTheLimit(t *testing.T) {
	p := New(Spec{Service: "crashy", Command: []string{app(t)}, Restart: "on-failure", MaxRestarts: 3, Backoff: 20 * time.Millisecond,
		Env: map[string]string{"APP_EXIT_AFTER": "10ms"}}, 1, freePort(t), io.Discard, "")
	start := time.Now()
	p.Start()
	defer p.Stop(context.Background())
	st := waitState(t, p, Failed)
	if st.Restarts != 3 || st.ExitCode != 3 || !strings.Contains(st.Error, "not restarted after 3 restarts in a row") {
		t.Fatalf("status %+v", st)
	}
	// Backoff: 20 + 40 + 80 ms at least between the four runs.
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("four runs in %v: no backoff", d)
	}
}

func TestRestartPolicies(t *testing.T) {
	cases := []struct {
		restart  string
		exitCode string
		want     State
		restarts bool
	}{
		{"no", "3", Failed, false},
		{"no", "0", Exited, false},
		{"on-failure", "0", Exited, false},
		{"always", "0", Failed, true}, // restarted until the limit
	}
	for _, c := range cases {
		t.Run(c.restart+"-"+c.exitCode, func(t *testing.T) {
			p := New(Spec{Service: "s", Command: []string{app(t)}, Restart: c.restart, MaxRestarts: 2, Backoff: time.Millisecond,
				Env: map[string]string{"APP_EXIT_AFTER": "1ms", "APP_EXIT_CODE": c.exitCode}}, 1, freePort(t), io.Discard, "")
			p.Start()
			defer p.Stop(context.Background())
			st := waitState(t, p, c.want)
			if (st.Restarts > 0) != c.restarts {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

func TestStopSignalThenKillWholeGroup(t *testing.T) {
	port := freePort(t)
	out := &safeBuffer{}
	p := New(Spec{Service: "stubborn", Command: []string{app(t)}, StopTimeout: 200 * time.Millisecond, Restart: "always",
		Env: map[string]string{"APP_IGNORE_TERM": "1", "APP_CHILD": "1"}}, 1, port, out, "")
	p.Start()
	waitServing(t, port)
	pid := p.Status().PID
	var child int
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		for _, l := range p.Logs() {
			fmt.Sscanf(l.Text, "child %d", &child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 || !alive(child) {
		t.Fatalf("the app's child did not start: %q", out.String())
	}
	start := time.Now()
	p.Stop(context.Background())
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("a process that ignores SIGTERM stopped in %v, before the stop timeout", d)
	}
	time.Sleep(50 * time.Millisecond) // the kernel reaps the child
	if alive(pid) || aliveNotZombie(child) {
		t.Fatalf("left running: process %v, its child %v", alive(pid), aliveNotZombie(child))
	}
	if st := p.Status(); st.State != Stopped {
		t.Fatalf("state %s after Stop, and not restarted", st.State)
	}
}

func TestStartFailure(t *testing.T) {
	p := New(Spec{Service: "missing", Command: []string{"/nonexistent/program"}, Restart: "on-failure", MaxRestarts: 1, Backoff: time.Millisecond}, 1, 1, io.Discard, "")
	p.Start()
	defer p.Stop(context.Background())
	st := waitState(t, p, Failed)
	if !strings.Contains(st.Error, "no such file") {
		t.Fatalf("status %+v", st)
	}
}

func TestFreePort(t *testing.T) {
	p := freePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	ln.Close()
}

func TestShellAndColour(t *testing.T) {
	out := &safeBuffer{}
	port := freePort(t)
	p := New(Spec{Service: "script", Command: []string{"echo", "port=${PORT}", "instance=$COMPOSER_INSTANCE", "&&", "exit 0"}, Shell: true, Restart: "no"}, 2, port, out, "36")
	p.Start()
	defer p.Stop(context.Background())
	waitState(t, p, Exited)
	want := fmt.Sprintf("\x1b[36mscript.2 | \x1b[0mport=%d instance=2\n", port)
	if !strings.Contains(out.String(), want) {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
}
