package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBinary starts the real composer binary on loopback ports: it serves
// the shop, applies an edit, survives a bad one, reloads on SIGHUP, stops
// cleanly on SIGTERM, and finds its data again when started anew.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	write := func(extra string) {
		src := fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
orders { kind: "builtin", routes: ["/orders", "/orders/:id"], calls: ["users"] }
notifications { kind: "builtin", routes: [] }
%s
[event_routes]
welcome { topic: "user.created", to: ["notifications"] }
`, filepath.Join(dir, "data"), extra)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")

	first := startBinary(t, bin, file)
	if status, body := httpDo(t, "POST", first.gateway+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`); status != 201 {
		t.Fatalf("create user: %d %s", status, body)
	}
	if status, body := httpDo(t, "POST", first.gateway+"/orders", `{"user_id":1,"items":[{"product_id":"a","quantity":1,"price":9.5}]}`); status != 201 {
		t.Fatalf("create order: %d %s", status, body)
	}
	write("notifications { kind: \"builtin\", routes: [\"/notifications\"] }\n")
	waitFor(t, "the edit applied", func() bool { s, _ := httpDo(t, "GET", first.gateway+"/notifications", ""); return s == 200 })
	waitFor(t, "the welcome notification", func() bool {
		_, body := httpDo(t, "GET", first.gateway+"/notifications", "")
		return strings.Contains(body, `"kind":"welcome"`)
	})
	write("oops: $nope\n")
	waitFor(t, "the bad edit reported", func() bool {
		_, body := httpDo(t, "GET", first.admin+"/v1/status", "")
		return strings.Contains(body, "platform.tsk:9:7: undefined variable $nope")
	})
	if s, _ := httpDo(t, "GET", first.gateway+"/notifications", ""); s != 200 {
		t.Errorf("a bad edit changed the running platform: %d", s)
	}
	write("notifications { kind: \"builtin\", routes: [] }\n")
	first.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "SIGHUP reloaded", func() bool { s, _ := httpDo(t, "GET", first.gateway+"/notifications", ""); return s == 404 })
	write("notifications { kind: \"builtin\", routes: [\"/notifications\"] }\n")
	first.stop(t)

	second := startBinary(t, bin, file)
	if status, body := httpDo(t, "GET", second.gateway+"/users/1", ""); status != 200 || !strings.Contains(body, `"username":"ada"`) {
		t.Errorf("user after a restart: %d %s", status, body)
	}
	if status, body := httpDo(t, "GET", second.gateway+"/orders/1", ""); status != 200 || !strings.Contains(body, `"total_amount":9.5`) {
		t.Errorf("order after a restart: %d %s", status, body)
	}
	_, evs := httpDo(t, "GET", second.admin+"/v1/events", "")
	if !strings.Contains(evs, `"type": "user.created"`) || !strings.Contains(evs, `"type": "order.created"`) {
		t.Errorf("events after a restart: %s", evs)
	}
	_, notes := httpDo(t, "GET", second.gateway+"/notifications", "")
	if strings.Count(notes, `"kind":"welcome"`) != 1 {
		t.Errorf("notifications after a restart: %s", notes)
	}
	rebuild := func() (int, string) {
		out, err := exec.Command(bin, "events", "rebuild", "-f", file).CombinedOutput()
		code := 0
		if err != nil {
			code = err.(*exec.ExitError).ExitCode()
		}
		return code, string(out)
	}
	if code, out := rebuild(); code != 1 || !strings.Contains(out, "is the composer running") {
		t.Errorf("rebuild with the composer running: %d %s", code, out)
	}
	_, user := httpDo(t, "GET", second.gateway+"/users/1", "")
	_, order := httpDo(t, "GET", second.gateway+"/orders/1", "")
	second.stop(t)

	// The entities made again from the event store are those it had.
	code, out := rebuild()
	if code != 0 || !strings.Contains(out, "users: rebuilt 1 users from the event store (0 events passed over)") ||
		!strings.Contains(out, "orders: rebuilt 1 orders") {
		t.Errorf("rebuild: %d %s", code, out)
	}
	third := startBinary(t, bin, file)
	if _, got := httpDo(t, "GET", third.gateway+"/users/1", ""); got != user {
		t.Errorf("user 1 rebuilt:\n%s\nbefore:\n%s", got, user)
	}
	if _, got := httpDo(t, "GET", third.gateway+"/orders/1", ""); got != order {
		t.Errorf("order 1 rebuilt:\n%s\nbefore:\n%s", got, order)
	}
	third.stop(t)
}

type binary struct {
	cmd            *exec.Cmd
	gateway, admin string
	exited         chan error
}

// runningLine finds the addresses in the composer's start line, a JSON
// record (standard error is not a terminal here) or a text one.
var runningLine = regexp.MustCompile(`platform running"?[ ,]*"?gateway"?[=:]"?([^"\s,]+)"?[ ,]*"?admin"?[=:]"?([^"\s,]+)`)

func startBinary(t *testing.T, bin, file string) *binary {
	t.Helper()
	cmd := exec.Command(bin, "-f", file)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &binary{cmd: cmd, exited: make(chan error, 1)}
	found := make(chan []string, 1)
	var mu sync.Mutex
	var before []string // what it wrote before its start line, for a start that fails
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		started := false
		for sc.Scan() {
			if m := runningLine.FindStringSubmatch(sc.Text()); m != nil && !started {
				started = true
				found <- m
			} else if !started {
				mu.Lock()
				before = append(before, sc.Text())
				mu.Unlock()
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { b.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case m := <-found:
		b.gateway, b.admin = "http://"+m[1], "http://"+m[2]
	case err := <-b.exited:
		<-scanned
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the composer exited: %v\n%s", err, strings.Join(before, "\n"))
	case <-time.After(20 * time.Second):
		t.Fatal("the composer did not start")
	}
	return b
}

func (b *binary) stop(t *testing.T) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the composer did not stop on SIGTERM")
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
