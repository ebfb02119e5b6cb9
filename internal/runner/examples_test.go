package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/testport"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

// TestExamples validates every example and starts it, on loopback ports,
// with its upstreams played by test servers. An example that needs what
// the runtime does not do yet must say so, precisely.
func TestExamples(t *testing.T) {
	var hooks atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hooks/") {
			hooks.Add(1)
		}
		io.WriteString(w, "upstream saw "+r.URL.Path)
	}))
	defer upstream.Close()
	files, _ := filepath.Glob("../../examples/*/platform.tsk")
	if len(files) < 2 {
		t.Fatalf("examples: %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			if strings.Contains(file, "reference") {
				// Its data_dir is fixed: a copy keeps it out of the
				// repository.
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				file = filepath.Join(t.TempDir(), "platform.tsk")
				if err := os.WriteFile(file, src, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			quotes := freeLoopbackPort(t)
			env := map[string]string{
				"COMPOSER_LISTEN": "127.0.0.1:0", "COMPOSER_ADMIN": "127.0.0.1:0", "COMPOSER_DATA_DIR": t.TempDir(),
				"CATALOG_1": upstream.URL, "CATALOG_2": upstream.URL, "AUDIT_HOOK": upstream.URL + "/hooks/user",
				"QUOTES_PORT": fmt.Sprint(quotes), "QUOTES_EVENTS": fmt.Sprintf("http://127.0.0.1:%d/events", quotes),
			}
			loader := &tsk.Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			if _, _, err := composer.Load(loader, file); err != nil {
				t.Fatalf("validate: %v", err)
			}
			r, err := New(file, loader, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			r.Start()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				r.Stop(ctx)
			}()
			gw := "http://" + r.GatewayAddr()
			if status, body := call(t, "POST", gw+"/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`); status != 201 {
				t.Fatalf("create user: %d %s", status, body)
			}
			if strings.Contains(file, "reference") {
				// Its worker is a program of the reader's own
				// (./bin/worker): here there is none, and it says so.
				eventually(t, "the worker's start failure", func() bool {
					return strings.Contains(r.gen().processes["worker"].procs[0].Status().Error, "no such file or directory")
				})
			}
			if strings.Contains(file, "polyglot") {
				// Go, built by a process that completes first, then
				// Python once Go is healthy; the user's event reaches
				// the Python script.
				// (go build takes a while on a cold cache.)
				eventuallyWithin(t, 2*time.Minute, "the Go greeter", func() bool {
					_, body := call(t, "GET", gw+"/greet/?name=ada", "")
					return strings.HasPrefix(body, "hello, ada, from Go")
				})
				eventuallyWithin(t, 30*time.Second, "the Python quotes", func() bool {
					_, body := call(t, "GET", gw+"/quotes/", "")
					return strings.HasSuffix(body, "(from Python)\n")
				})
				eventually(t, "the welcome event at the Python script", func() bool {
					_, body := call(t, "GET", gw+"/quotes/welcomed", "")
					return body == `["ada"]`
				})
			}
			if strings.Contains(file, "http-gateway") {
				if status, body := call(t, "GET", gw+"/catalog/items/7", ""); status != 200 || body != "upstream saw /items/7" {
					t.Errorf("catalog: %d %q", status, body)
				}
				eventually(t, "the audit hook", func() bool { return hooks.Load() > 0 })
			}
		})
	}
}

func freeLoopbackPort(t *testing.T) int { return testport.Free(t) }
