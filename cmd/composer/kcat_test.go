package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/testport"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kcat returns the path of Debian's kcat (librdkafka), the independent
// Kafka client of the interop test. CI installs it (.ci/run); elsewhere
// the test says how to get it.
func kcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed; .ci/run installs it")
		}
		t.Skip("kcat is not installed (apt-get install kcat); CI runs this test")
	}
	return path
}

// TestKafkaInterop has kcat produce an event the composer consumes, and
// consume the events the composer publishes, on a kfake cluster; and runs
// `composer events publish/tail/replay` against the same platform.
func TestKafkaInterop(t *testing.T) {
	kc := kcat(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	src := fmt.Sprintf(`[composer]
name: "shop"
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: %q
[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
notifications { kind: "builtin", routes: ["/notifications"] }
[events]
bus: "kafka"
brokers: [%q]
linger: "1ms"
[event_routes]
welcome { topic: "user.created", to: ["notifications"] }
`, freePort(t), filepath.Join(dir, "data"), broker)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	comp := startBinary(t, bin, file)

	// kcat produces a plain JSON message, no CloudEvents headers.
	produce := exec.Command(kc, "-P", "-b", broker, "-t", "user.created", "-k", "77")
	produce.Stdin = strings.NewReader(`{"id":77,"username":"grace","email":"grace@example.com"}` + "\n")
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	waitFor(t, "grace's welcome, from kcat's message", func() bool {
		_, body := httpDo(t, "GET", comp.gateway+"/notifications", "")
		return strings.Contains(body, "Welcome, grace")
	})

	// The composer publishes; kcat reads the message, key and headers.
	status, body := httpDo(t, "POST", comp.gateway+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	var ada struct{ ID uint64 }
	if status != 201 || json.Unmarshal([]byte(body), &ada) != nil {
		t.Fatalf("create user: %d %s", status, body)
	}
	var found string
	waitFor(t, "kcat to read the composer's event", func() bool {
		out, _ := exec.Command(kc, "-C", "-b", broker, "-t", "user.created", "-o", "beginning", "-e", "-q",
			"-f", "key=%k headers=%h value=%s\n").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, `"username":"ada"`) {
				found = line
				return true
			}
		}
		return false
	})
	for _, want := range []string{fmt.Sprintf("key=user/%d ", ada.ID), "ce_specversion=1.0", "ce_type=user.created", "ce_source=/services/users",
		fmt.Sprintf("ce_subject=%d,", ada.ID), "ce_aggregatetype=user,", "ce_aggregateversion=1,", "content-type=application/json"} {
		if !strings.Contains(found, want) {
			t.Errorf("kcat's view of the composer's event lacks %q: %s", want, found)
		}
	}

	// composer events publish, then tail from the beginning.
	out, err := exec.Command(bin, "events", "publish", "-f", file, "--subject", "9", "order.created", `{"total_amount": 5}`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"type": "order.created"`) {
		t.Fatalf("events publish: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tail := exec.CommandContext(ctx, bin, "events", "tail", "-f", file, "--from-beginning", "user.created")
	stdout, _ := tail.StdoutPipe()
	var tailErr bytes.Buffer
	tail.Stderr = &tailErr
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var subjects []string
	for len(subjects) < 2 && sc.Scan() {
		var ce struct{ Subject, Type string }
		if err := json.Unmarshal(sc.Bytes(), &ce); err != nil || ce.Type != "user.created" {
			t.Fatalf("tail printed %q", sc.Text())
		}
		subjects = append(subjects, ce.Subject)
	}
	tail.Process.Kill()
	tail.Wait()
	// Two keys, two partitions: no order between them.
	slices.Sort(subjects)
	if want := fmt.Sprintf("[%d 77]", ada.ID); fmt.Sprint(subjects) != want {
		t.Errorf("tail --from-beginning: subjects %v, want %s; %s", subjects, want, tailErr.String())
	}

	// composer events replay: both user.created events again, through
	// the welcome route (the notifications service ignores repeats).
	out, err = exec.Command(bin, "events", "replay", "-f", file, "--route", "welcome").CombinedOutput()
	var res struct{ Events, Delivered, Failed int }
	if err != nil || json.Unmarshal(bytes.TrimSpace(out), &res) != nil || res.Events != 2 || res.Delivered != 2 || res.Failed != 0 {
		t.Fatalf("events replay: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "events", "replay", "-f", file, "--route", "nope").CombinedOutput(); err == nil || !strings.Contains(string(out), `no event route "nope"`) {
		t.Errorf("replay of an unknown route: %v %s", err, out)
	}
	_, notes := httpDo(t, "GET", comp.gateway+"/notifications", "")
	if strings.Count(notes, `"kind":"welcome"`) != 2 {
		t.Errorf("after a replay: %s", notes)
	}
	comp.stop(t)
}

// freePort returns a loopback port nobody listens on.
func freePort(t *testing.T) int { return testport.Free(t) }
