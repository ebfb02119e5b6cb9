package runner

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tuskcompose/composer/tsk"
)

// BenchmarkReloadApplied measures an edit's way to the first request
// served by the new generation: write the file, the watcher sees it, waits
// out its quiet period (5ms, as `composer run`), reloads, swaps.
func BenchmarkReloadApplied(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	write := func(routes string) {
		os.WriteFile(file, []byte(platform(dir, "[services]\nnotifications { routes: "+routes+" }\n")), 0o644)
	}
	write(`["/notifications"]`)
	r, err := New(file, &tsk.Loader{LookupEnv: noEnv}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	r.Start()
	defer r.Stop(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	url := "http://" + r.GatewayAddr() + "/notifications"
	client := &http.Client{Timeout: time.Second}
	served := func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		on := i%2 == 1
		start := time.Now()
		if on {
			write(`["/notifications"]`)
		} else {
			write("[]")
		}
		deadline := time.Now().Add(5 * time.Second)
		for served() != on {
			if time.Now().After(deadline) {
				b.Fatal("the edit was not applied within 5s")
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}
