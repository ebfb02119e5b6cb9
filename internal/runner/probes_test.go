package runner

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
)

// TestProbesShareConnections: the first probes of many instances on one
// address, all at once, share at most probeConnsPerHost connections
// instead of opening one each (a platform of thousands of such services
// ran out of file descriptors at start), and every instance still
// becomes healthy.
func TestProbesShareConnections(t *testing.T) {
	var opened, serving, most atomic.Int64
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := serving.Add(1)
		defer serving.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond) // so that the probes overlap
		w.Write([]byte("ok"))
	}))
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	upstream.Start()
	defer upstream.Close()
	const services = 300
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	if err := os.WriteFile(file, []byte(bigPlatform(dir, upstream.URL, services, -1, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startFile(t, file)
	deadline := time.Now().Add(20 * time.Second)
	for healthy := 0; healthy < services; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d instances healthy after 20s", healthy, services)
		}
		time.Sleep(10 * time.Millisecond)
		healthy = 0
		for _, in := range r.gen().instances {
			if in.Health() == balancer.Healthy {
				healthy++
			}
		}
	}
	if n := opened.Load(); n > probeConnsPerHost {
		t.Errorf("the probes opened %d connections to one address, want at most %d", n, probeConnsPerHost)
	}
	if most.Load() < 2 {
		t.Errorf("the probes ran one at a time (%d at most)", most.Load())
	}
}
