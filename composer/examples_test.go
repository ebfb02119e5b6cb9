package composer

import (
	"context"
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
	files, _ := filepath.Glob("../examples/*/platform.tsk")
	if len(files) < 2 {
		t.Fatalf("examples: %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			// A copy beside which the example keeps its data.
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "platform.tsk")
			if err := os.WriteFile(file, src, 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"COMPOSER_LISTEN": "127.0.0.1:0", "COMPOSER_ADMIN": "127.0.0.1:0", "COMPOSER_DATA_DIR": t.TempDir(),
				"CATALOG_1": upstream.URL, "CATALOG_2": upstream.URL, "AUDIT_HOOK": upstream.URL + "/hooks/user",
			}
			loader := &tsk.Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			if _, _, err := Load(loader, file); err != nil {
				t.Fatalf("validate: %v", err)
			}
			r, err := NewRunner(file, loader, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
			if strings.Contains(file, "http-gateway") {
				if status, body := call(t, "GET", gw+"/catalog/items/7", ""); status != 200 || body != "upstream saw /items/7" {
					t.Errorf("catalog: %d %q", status, body)
				}
				eventually(t, "the audit hook", func() bool { return hooks.Load() > 0 })
			}
		})
	}
}
