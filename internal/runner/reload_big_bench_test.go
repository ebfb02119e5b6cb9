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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

// bigPlatform is a platform of n http services, each with one route
// prefix and one instance (the same upstream), plus extra routes for
// service edited.
func bigPlatform(dir, upstream string, n, edited int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[composer]\nname: \"big\"\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n\n[health_checks]\ninterval: \"1h\"\n\n[services]\n", filepath.Join(dir, "data"))
	for i := 0; i < n; i++ {
		routes := fmt.Sprintf(`"/svc%d/*path"`, i)
		if i == edited && extra != "" {
			routes += `, "` + extra + `"`
		}
		fmt.Fprintf(&b, "svc%d { kind: \"http\", instances: [%q], routes: [%s], timeout: \"2s\" }\n", i, upstream, routes)
	}
	return b.String()
}

// BenchmarkReloadOneService is the cost of a one-service edit as the
// platform grows: the time from writing the file (one route added to one
// service) to the first request the new route serves, with the watcher's
// 5 ms quiet period (reload-ms), and the reload's own time from reading
// the file to the swap, as /v1/status reports it (reload-work-ms). Also
// reported: the time to start the platform, and the heap per service.
//
//	BIG_SERVICES=100,1000,5000 go test ./internal/runner -run '^$' -bench ReloadOneService -benchtime 5x
func BenchmarkReloadOneService(b *testing.B) {
	sizes := []int{100, 1000, 5000}
	if s := os.Getenv("BIG_SERVICES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.Atoi(f)
			sizes = append(sizes, n)
		}
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			file := filepath.Join(dir, "platform.tsk")
			edited := n / 2
			os.WriteFile(file, []byte(bigPlatform(dir, upstream.URL, n, edited, "")), 0o644)
			loadStart := time.Now()
			if _, _, err := composer.LoadResolved(&tsk.Loader{LookupEnv: noEnv}, file); err != nil {
				b.Fatal(err)
			}
			load := time.Since(loadStart)
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			r, err := New(file, &tsk.Loader{LookupEnv: noEnv}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			r.Start()
			started := time.Since(start)
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			defer r.Stop(context.Background())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go r.Watch(ctx, 5*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			client := &http.Client{Timeout: 2 * time.Second}
			var took, work []time.Duration // from the write; the reload's own
			b.ResetTimer()
			for i := range b.N {
				extra := fmt.Sprintf("/extra%d/*path", i)
				url := "http://" + r.GatewayAddr() + fmt.Sprintf("/extra%d/x", i)
				t0 := time.Now()
				os.WriteFile(file, []byte(bigPlatform(dir, upstream.URL, n, edited, extra)), 0o644)
				deadline := t0.Add(30 * time.Second)
				for {
					resp, err := client.Get(url)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							break
						}
					}
					if time.Now().After(deadline) {
						b.Fatal("the edit was not served within 30s")
					}
					time.Sleep(500 * time.Microsecond)
				}
				took = append(took, time.Since(t0))
				r.statusMu.Lock()
				d, _ := time.ParseDuration(r.history[len(r.history)-1].Duration)
				r.statusMu.Unlock()
				work = append(work, d)
			}
			b.StopTimer()
			slices.Sort(took)
			slices.Sort(work)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "reload-ms")
			b.ReportMetric(float64(work[len(work)/2].Microseconds())/1000, "reload-work-ms")
			b.ReportMetric(float64(load.Microseconds())/1000, "load-ms")
			b.ReportMetric(float64(started.Microseconds())/1000, "start-ms")
			b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/float64(n)/1024, "heap-KiB/service")
		})
	}
}
