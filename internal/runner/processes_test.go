package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcessRoutableSoonAfterItListens: a process that listens 150 ms
// after it starts is served within 300 ms of listening, although the
// health checks' interval is the default 5 s: a starting instance is
// probed every start_interval until it passes.
func TestProcessRoutableSoonAfterItListens(t *testing.T) {
	listened := filepath.Join(t.TempDir(), "listened")
	p := startPlatform(t, fmt.Sprintf(`[services]
api { kind: "process", command: [%q, "-test.run=^$"], routes: ["/api"],
      env: { COMPOSER_TEST_SERVE: "1", COMPOSER_TEST_DELAY: "150ms", COMPOSER_TEST_LISTENED: %q } }
[health_checks]
interval: "5s"
`, os.Args[0], listened))
	gw := "http://" + p.r.GatewayAddr()
	var served time.Time
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if status, _ := call(t, "GET", gw+"/api", ""); status == 200 {
			served = time.Now()
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if served.IsZero() {
		t.Fatal("the process was never served")
	}
	b, err := os.ReadFile(listened)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if after := served.Sub(time.Unix(0, ns)); after > 300*time.Millisecond {
		t.Errorf("served %s after it listened, want at most 300ms", after)
	} else {
		t.Logf("served %s after it listened", after)
	}
}
