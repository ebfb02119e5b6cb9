package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEventsCommandsEmbedded runs `composer events publish/tail/replay`
// against a composer on the embedded bus, through its admin API.
func TestEventsCommandsEmbedded(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	src := fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: %q
[services]
notifications { kind: "builtin", routes: ["/notifications"] }
[event_routes]
welcome { topic: "user.created", filter: "data.username != \"nobody\"", to: ["notifications"] }
`, freePort(t), filepath.Join(dir, "data"))
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	comp := startBinary(t, bin, file)
	before := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)

	for _, name := range []string{"grace", "nobody"} {
		data := fmt.Sprintf(`{"id": 1, "username": %q, "email": "%s@example.com"}`, name, name)
		out, err := exec.Command(bin, "events", "publish", "-f", file, "--subject", name, "user.created", data).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"type": "user.created"`) {
			t.Fatalf("events publish: %v\n%s", err, out)
		}
	}
	if out, err := exec.Command(bin, "events", "publish", "-f", file, "user.created", "{not json").CombinedOutput(); err == nil || !strings.Contains(string(out), "not JSON") {
		t.Errorf("publish of bad JSON: %v %s", err, out)
	}
	waitFor(t, "grace's welcome", func() bool {
		_, body := httpDo(t, "GET", comp.gateway+"/notifications", "")
		return strings.Contains(body, "Welcome, grace")
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tail := exec.CommandContext(ctx, bin, "events", "tail", "-f", file, "--from-beginning", "user.created")
	stdout, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var subjects []string
	for len(subjects) < 2 && sc.Scan() {
		var ce struct{ Subject string }
		json.Unmarshal(sc.Bytes(), &ce)
		subjects = append(subjects, ce.Subject)
	}
	tail.Process.Kill()
	tail.Wait()
	if fmt.Sprint(subjects) != "[grace nobody]" {
		t.Errorf("tail: %v", subjects)
	}

	out, err := exec.Command(bin, "events", "replay", "-f", file, "--route", "welcome", "--from", before).CombinedOutput()
	var res struct{ Events, Delivered, Filtered, Failed int }
	if err != nil || json.Unmarshal(out, &res) != nil || res.Events != 2 || res.Delivered != 1 || res.Filtered != 1 {
		t.Fatalf("events replay: %v\n%s", err, out)
	}
	future := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	out, _ = exec.Command(bin, "events", "replay", "-f", file, "--route", "welcome", "--from", future).CombinedOutput()
	if json.Unmarshal(out, &res) != nil || res.Events != 0 {
		t.Errorf("replay from the future: %s", out)
	}
	comp.stop(t)
}
