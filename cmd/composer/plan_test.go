package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/runner"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	head := fmt.Sprintf("[composer]\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n[services]\nusers { kind: \"builtin\", routes: [\"/users\"] }\n", filepath.Join(dir, "data"))
	os.WriteFile(file, []byte(head), 0o644)
	r, err := runner.New(file, &tsk.Loader{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	want := "+ service notifications: builtin\n+ route /notifications: to notifications\n+ route /users/:id: to users\n+ breaker notifications->users\n"
	if out.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", out.String(), want)
	}
	if status, body := httpDo(t, "GET", "http://"+r.GatewayAddr()+"/users/1", ""); status != 404 || !strings.Contains(body, "no route") {
		t.Errorf("plan changed the running platform: %d %s", status, body)
	}
	// --format json, then the reload: it reports exactly those actions.
	out.Reset()
	if code := run([]string{"plan", "-f", file, "--admin", r.AdminAddr(), "--format", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var planned []composer.Action
	if err := json.Unmarshal(out.Bytes(), &planned); err != nil || len(planned) != 4 {
		t.Fatalf("plan --format json: %v %s", err, out.String())
	}
	if planned[0] != (composer.Action{Action: "add", Kind: "service", Name: "notifications", Reason: "builtin"}) {
		t.Errorf("first action: %+v", planned[0])
	}
	if status, body := httpDo(t, "POST", "http://"+r.AdminAddr()+"/v1/reload", ""); status != 200 {
		t.Fatalf("reload: %d %s", status, body)
	}
	_, body := httpDo(t, "GET", "http://"+r.AdminAddr()+"/v1/status", "")
	var st struct {
		LastReload struct {
			Actions []composer.Action `json:"actions"`
		} `json:"last_reload"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || !reflect.DeepEqual(st.LastReload.Actions, planned) {
		t.Errorf("the reload's actions %+v, planned %+v (%v)", st.LastReload.Actions, planned, err)
	}
	out.Reset()
	if code := run([]string{"plan", "-f", file, "--admin", r.AdminAddr()}, &out, &errOut); code != 0 || out.String() != "no changes\n" {
		t.Errorf("after the reload: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"plan", "-f", file, "--admin", "127.0.0.1:1"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no running composer at 127.0.0.1:1") {
		t.Errorf("no composer: %d %q", code, errOut.String())
	}
}
