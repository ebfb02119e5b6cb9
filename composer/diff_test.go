package composer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

// resolveText resolves a platform written as text (in its own file, so
// that relative paths have a base).
func resolveText(t *testing.T, dir, src string) *Resolved {
	t.Helper()
	file := filepath.Join(dir, "platform.tsk")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, file)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return m
}

const diffBase = `[composer]
name: "shop"
data_dir: "/tmp/composer-diff-test"

[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
orders { kind: "builtin", routes: ["/orders"], calls: ["users"] }
notifications { kind: "builtin" }
billing { kind: "http", instances: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"], routes: ["/billing/*path"] }
worker { kind: "process", command: ["sleep", "60"], routes: ["/work"] }
`

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name        string
		before      string // appended to diffBase
		after       string // appended to diffBase
		want        []string
		wantKept    []string // "kind name" that must be kept
		replaceBase string   // when set, replaces diffBase in after (old -> new, "|" separated)
	}{
		{
			name: "nothing",
			want: nil,
		},
		{
			// Regression: an edit of [events] retry restarted every event
			// consumer while plan said nothing changes.
			name:     "events retry is every inheriting route's",
			before:   "[events]\nretry { attempts: 5 }\n[event_routes]\nwelcome { topic: \"user.created\", to: [\"notifications\"] }\nown { topic: \"order.created\", to: [\"notifications\"], retry { attempts: 2, backoff: \"1s\", max_backoff: \"2s\" } }\n",
			after:    "[events]\nretry { attempts: 7 }\n[event_routes]\nwelcome { topic: \"user.created\", to: [\"notifications\"] }\nown { topic: \"order.created\", to: [\"notifications\"], retry { attempts: 2, backoff: \"1s\", max_backoff: \"2s\" } }\n",
			want:     []string{`~ event route welcome: retry {"attempts":5,"backoff":100000000,"max_backoff":10000000000} -> {"attempts":7,"backoff":100000000,"max_backoff":10000000000}`},
			wantKept: []string{"event_route own", "bus bus"},
		},
		{
			// Regression: process services have breakers at run time; the
			// plan's list left them out.
			name:   "a process service's breaker",
			before: "[circuit_breaker]\nfailure_threshold: 5\n",
			after:  "[circuit_breaker]\nfailure_threshold: 5\nworker { failure_threshold: 2 }\n",
			want:   []string{"~ breaker worker: failure_threshold 5 -> 2"},
		},
		{
			// Regression: a health-check edit of a process service was
			// reported and never applied (the process was kept whole).
			name:     "a process service's health checks, the process kept",
			before:   "",
			after:    "[health_checks]\nworker { interval: \"2s\" }\n",
			want:     []string{"~ health check worker: interval 5s -> 2s"},
			wantKept: []string{"process worker", "balancer worker"},
		},
		{
			// Regression: plan said [composer] changes take effect at the
			// next start while the reload refused the whole edit. Now both
			// say needs-restart, and the rest is applied.
			name:   "composer settings need a restart, the rest applies",
			before: "",
			after:  "[composer]\nlisten: \"127.0.0.1:8181\"\n[services]\nbilling { timeout: \"2s\" }\n",
			want: []string{
				"! composer composer (needs a restart): listen 127.0.0.1:8080 -> 127.0.0.1:8181",
				"~ service billing: timeout 0s -> 2s",
			},
		},
		{
			name:   "the bus needs a restart",
			before: "",
			after:  "[events]\nbus: \"kafka\"\nbrokers: [\"127.0.0.1:9092\"]\n",
			want:   []string{"! bus bus (needs a restart): bus embedded -> kafka; brokers [] -> [127.0.0.1:9092]"},
		},
		{
			name:     "an instance added keeps the others and the checker",
			after:    "[services]\nbilling { instances: [\"http://127.0.0.1:7001\", \"http://127.0.0.1:7002\", \"http://127.0.0.1:7003\"] }\n",
			want:     []string{"+ instance billing http://127.0.0.1:7003", "~ balancer billing: instances [http://127.0.0.1:7001, http://127.0.0.1:7002] -> [http://127.0.0.1:7001, http://127.0.0.1:7002, http://127.0.0.1:7003]"},
			wantKept: []string{"instance billing http://127.0.0.1:7001", "health_check billing", "breaker billing"},
		},
		{
			name:     "a process command replaces its instances and balancer, keeps its checks",
			after:    "[services]\nworker { command: [\"sleep\", \"61\"] }\n",
			want:     []string{"~ balancer worker: over new instances", "~ process worker: command [sleep, 60] -> [sleep, 61]"},
			wantKept: []string{"health_check worker", "breaker worker", "service worker"},
		},
		{
			name:     "a per-target block can set false",
			after:    "[circuit_breaker]\nbilling { half_open_state: false }\n",
			want:     []string{"~ breaker billing: no_half_open false -> true"},
			wantKept: []string{"breaker users", "breaker worker"},
		},
		{
			name:  "breakers turned off",
			after: "[microservices_configuration]\nenable_circuit_breaker: false\n",
			want:  []string{"- breaker billing", "- breaker notifications->users", "- breaker orders->users", "- breaker users", "- breaker worker"},
		},
		{
			name:     "a route moves to another service",
			before:   "[services]\nsearch { kind: \"http\", instances: [\"http://127.0.0.1:7010\"] }\n",
			after:    "[services]\nsearch { kind: \"http\", instances: [\"http://127.0.0.1:7010\"], routes: [\"/work\"] }\nworker { routes: [] }\n",
			want:     []string{"~ route /work: worker -> search", "- health check worker"},
			wantKept: []string{"process worker", "service search"},
		},
		{
			name:     "a filter edit replaces its route only",
			before:   "[event_routes]\nbig { topic: \"order.created\", filter: \"data.total > 100\", to: [\"notifications\"] }\nw { topic: \"user.created\", to: [\"notifications\"] }\n",
			after:    "[event_routes]\nbig { topic: \"order.created\", filter: \"data.total > 10\", to: [\"notifications\"] }\nw { topic: \"user.created\", to: [\"notifications\"] }\n",
			want:     []string{"~ event route big: filter data.total > 100 -> data.total > 10"},
			wantKept: []string{"event_route w"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := resolveText(t, dir, diffBase+tc.before), resolveText(t, dir, diffBase+tc.after)
			acts := Diff(a, b)
			var got []string
			for _, c := range acts {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			all := [2]map[string]map[string]any{components(a, nil, nil), components(b, nil, nil)}
			for _, k := range tc.wantKept {
				kind, name, _ := strings.Cut(k, " ")
				if got := acts.Of(kind, name); got != Keep {
					t.Errorf("%s: %q, want keep", k, got)
				}
				if _, ok := all[0][kind][name]; !ok {
					t.Errorf("%s is not a component of the platform before", k)
				} else if _, ok := all[1][kind][name]; !ok {
					t.Errorf("%s is not a component of the platform after", k)
				}
			}
			if got := Diff(b, b); len(got) != 0 {
				t.Errorf("the platform against itself: %v", got)
			}
		})
	}
}

func TestDiffFirstStartAddsEverything(t *testing.T) {
	m := resolveText(t, t.TempDir(), diffBase)
	for _, a := range Diff(nil, m) {
		if a.Action != Add {
			t.Errorf("%v at the first start", a)
		}
	}
	if Diff(nil, m).Of(KindComposer, KindComposer) != Add {
		t.Error("no composer settings")
	}
}
