package alerts

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func load(t *testing.T, src string) *composer.Resolved {
	t.Helper()
	file := filepath.Join(t.TempDir(), "platform.tsk")
	os.WriteFile(file, []byte(src), 0o644)
	m, _, err := composer.LoadResolved(&tsk.Loader{LookupEnv: func(string) (string, bool) { return "", false }}, file)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const base = `[composer]
name: "edge"
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
[services]
api { kind: "http", instances: ["http://127.0.0.1:9"], routes: ["/api"] }
worker { kind: "process", command: ["sleep", "100"], routes: ["/work"] }
[health_checks]
interval: "20s"
retries: 2
[circuit_breaker]
recovery_timeout: "2m"
api { recovery_timeout: "10s" }
[event_routes]
audit { topic: "api.called", to: ["worker"] }
`

// TestRules: each rule's threshold comes from its target's own settings;
// the golden file is the whole output.
func TestRules(t *testing.T) {
	f, err := Rules(load(t, base), `job="edge"`)
	if err != nil {
		t.Fatal(err)
	}
	got := f.YAML()
	golden := filepath.Join("testdata", "edge.golden")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, _ := os.ReadFile(golden)
	if string(got) != string(want) {
		t.Errorf("rules differ from %s (go test -update):\n%s", golden, got)
	}
	for _, want := range []string{
		`composer_breaker_state{target="api",state="closed",job="edge"}[1m]) == 0`,    // 3 × 10s, at least 1m
		`composer_breaker_state{target="worker",state="closed",job="edge"}[6m]) == 0`, // 3 × 2m
		`composer_process_restarts_total{service="worker",job="edge"}[10m]) >= 3`,
		"for: 2m\n", // api unhealthy: 3 × 20s × 2
		`composer_events_total{route="audit",outcome="dead_lettered",job="edge"}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("no %s in\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "composer_kafka_consumer_lag") {
		t.Error("a consumer lag rule on the embedded bus")
	}
}

func TestRulesNeedMetrics(t *testing.T) {
	m := load(t, base+"[microservices_configuration]\nenable_metrics: false\n")
	if _, err := Rules(m, ""); !errors.Is(err, ErrNoMetrics) {
		t.Errorf("metrics off: %v", err)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]string{"90s": "1m30s", "1h30m": "1h30m", "0s": "0s", "2h": "2h", "1500ms": "2s"} {
		d, _ := time.ParseDuration(in)
		if got := duration(d); got != want {
			t.Errorf("duration(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDocsListTheAlerts: docs/platform.md shows Markdown() as it is.
func TestDocsListTheAlerts(t *testing.T) {
	page, err := os.ReadFile("../../docs/platform.md")
	if err != nil {
		t.Fatal(err)
	}
	// The table may be indented under a list item.
	lines := strings.Split(string(page), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " ")
	}
	if !strings.Contains(strings.Join(lines, "\n"), Markdown()) {
		t.Errorf("docs/platform.md does not show the alerts as they are; its table should be:\n%s", Markdown())
	}
}
