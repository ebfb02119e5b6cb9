package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	head := fmt.Sprintf("[composer]\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n[services]\nusers { kind: \"builtin\", routes: [\"/users\"] }\n", filepath.Join(dir, "data"))
	os.WriteFile(file, []byte(head), 0o644)
	r, err := composer.NewRunner(file, &tsk.Loader{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Stop(ctx)
	}()
	var out, errOut bytes.Buffer
	if code := run([]string{"plan", "-f", file, "--admin", r.AdminAddr()}, &out, &errOut); code != 0 || out.String() != "no changes\n" {
		t.Fatalf("unchanged file: %d %q %q", code, out.String(), errOut.String())
	}
	os.WriteFile(file, []byte(head+"users { routes: [\"/users\", \"/users/:id\"] }\nnotifications { kind: \"builtin\", routes: [\"/notifications\"] }\n"), 0o644)
	out.Reset()
	if code := run([]string{"plan", "-f", file, "--admin", r.AdminAddr()}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := "+ service notifications: builtin, routes [/notifications]\n~ service users: routes +/users/:id\n"
	if out.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", out.String(), want)
	}
	if status, body := httpDo(t, "GET", "http://"+r.GatewayAddr()+"/users/1", ""); status != 404 || !strings.Contains(body, "no route") {
		t.Errorf("plan changed the running platform: %d %s", status, body)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"plan", "-f", file, "--admin", "127.0.0.1:1"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no running composer at 127.0.0.1:1") {
		t.Errorf("no composer: %d %q", code, errOut.String())
	}
}
