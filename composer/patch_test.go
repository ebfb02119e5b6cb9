package composer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

// TestPatchedResolutionIsAWholeOne: a load that changes a few services
// is resolved from the last one (patchServices, patchBreakers), and the
// result is the resolution of the same file loaded without a cache: the
// settings, the breakers that come and go with calls and kinds, the event
// routes' breakers, where every service is written, the warnings and the
// problems. Each step says whether it is patched: a service added, removed
// or renamed, or what all services inherit, takes the whole way.
func TestPatchedResolutionIsAWholeOne(t *testing.T) {
	var fill strings.Builder
	for i := range 40 {
		fmt.Fprintf(&fill, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], calls: [\"svc%d\"], timeout: \"2s\" }\n", i, 7000+i, i, (i+1)%40)
	}
	base := "[composer]\nname: \"p\"\n\n[services]\n" +
		"users { kind: \"builtin\", routes: [\"/users\", \"/users/:id\"] }\n" +
		"orders { kind: \"builtin\", routes: [\"/orders\", \"/orders/:id\"], calls: [\"users\"] }\n" +
		"notifications { kind: \"builtin\" }\n" +
		"edge { kind: \"http\", instances: [\"http://127.0.0.1:7100\"], routes: [\"/edge\"], calls: [\"svc3\", \"users\"] }\n" +
		fill.String() +
		"worker { kind: \"process\", command: [\"./w\"], calls: [\"svc7\"] }\n" +
		"\n[circuit_breaker]\nfailure_threshold: 5\nsvc3 { recovery_timeout: \"20s\" }\nusers { failure_threshold: 9 }\n" +
		"\n[health_checks]\ninterval: \"5s\"\nsvc5 { path: \"/h5\" }\n" +
		"\n[event_routes]\nto_svc9 { topic: \"order.created\", to: [\"svc9\"] }\n" +
		"\n[notifications]\nsmtp { host: \"127.0.0.1\", port: 2525, from: \"shop@example.com\" }\n"
	steps := []struct {
		name    string
		edit    func(string) string
		patched bool
		problem string // a problem the step has ("": none)
	}{
		{"a timeout changed", func(s string) string { return strings.Replace(s, `timeout: "2s"`, `timeout: "3s"`, 1) }, true, ""},
		{"a line break at the start: every service moves", func(s string) string { return "\n" + s }, true, ""},
		{"a call dropped: its pair and the target's breaker go", func(s string) string {
			return strings.Replace(s, `calls: ["svc3", "users"]`, `calls: ["svc3"]`, 1)
		}, true, ""},
		{"a call added back", func(s string) string { return strings.Replace(s, `calls: ["svc3"] }`, `calls: ["svc3", "users"] }`, 1) }, true, ""},
		{"an http service made a process", func(s string) string {
			return strings.Replace(s, `svc12 { kind: "http", instances: ["http://127.0.0.1:7012"]`, `svc12 { kind: "process", command: ["./p"]`, 1)
		}, true, ""},
		{"a call to a service nothing else calls", func(s string) string {
			return strings.Replace(s, `worker { kind: "process", command: ["./w"], calls: ["svc7"] }`, `worker { kind: "process", command: ["./w"], calls: ["svc7", "orders"] }`, 1)
		}, true, ""},
		{"an event route's target changed", func(s string) string { return strings.Replace(s, `to: ["svc9"]`, `to: ["svc10", "svc11/hook"]`, 1) }, true, ""},
		{"the built-in notifications' SMTP server changed: built-ins are resolved again", func(s string) string { return strings.Replace(s, "port: 2525", "port: 2526", 1) }, true, ""},
		{"a service discovers its instances from the registry", func(s string) string {
			return strings.Replace(s, `routes: ["/svc33"]`, `routes: ["/svc33"], discovery: "registry"`, 1)
		}, true, ""},
		{"another one, and the first no longer", func(s string) string {
			return strings.Replace(strings.Replace(s, `, discovery: "registry"`, "", 1), `routes: ["/svc34"]`, `routes: ["/svc34"], discovery: "registry"`, 1)
		}, true, ""},
		{"a service's health block changed", func(s string) string { return strings.Replace(s, `path: "/h5"`, `path: "/h6"`, 1) }, false, ""},
		{"a per-target breaker block changed", func(s string) string {
			return strings.Replace(s, `recovery_timeout: "20s"`, `recovery_timeout: "30s"`, 1)
		}, true, ""},
		{"the breakers' defaults changed", func(s string) string { return strings.Replace(s, "failure_threshold: 5", "failure_threshold: 6", 1) }, true, ""},
		{"a service renamed", func(s string) string {
			return strings.Replace(strings.Replace(s, "svc20 {", "svc20b {", 1), `calls: ["svc20"]`, `calls: ["svc20b"]`, 1)
		}, false, ""},
		{"after the rename, an edit", func(s string) string { return strings.Replace(s, `timeout: "3s"`, `timeout: "4s"`, 1) }, true, ""},
		{"a problem: a call to nothing", func(s string) string { return strings.Replace(s, `calls: ["svc31"]`, `calls: ["svc311"]`, 1) }, true, "is not a service"},
		{"an edit elsewhere: the problem is still told", func(s string) string { return strings.Replace(s, `timeout: "4s"`, `timeout: "6s"`, 1) }, true, "is not a service"},
		{"the problem fixed", func(s string) string { return strings.Replace(s, `calls: ["svc311"]`, `calls: ["svc31"]`, 1) }, true, ""},
		{"a route declared by two services: the later one, unchanged, is told", func(s string) string {
			return strings.Replace(s, `routes: ["/svc5"]`, `routes: ["/svc5", "/svc6"]`, 1)
		}, true, "already served by svc5"},
		{"the route given back, a parameter added", func(s string) string {
			return strings.Replace(s, `routes: ["/svc5", "/svc6"]`, `routes: ["/svc5", "/svc5/:id"]`, 1)
		}, true, ""},
		{"a route that conflicts with another service's", func(s string) string {
			return strings.Replace(s, `routes: ["/svc4"]`, `routes: ["/svc4", "/svc5/:name"]`, 1)
		}, true, "conflicts with another route"},
		{"the conflict gone", func(s string) string {
			return strings.Replace(s, `routes: ["/svc4", "/svc5/:name"]`, `routes: ["/svc4"]`, 1)
		}, true, ""},
		{"the route given back", func(s string) string {
			return strings.Replace(s, `routes: ["/svc5", "/svc5/:id"]`, `routes: ["/svc5"]`, 1)
		}, true, ""},
		{"a route an earlier, unchanged service serves", func(s string) string {
			return strings.Replace(s, `routes: ["/svc9"]`, `routes: ["/svc9", "/svc3"]`, 1)
		}, true, "is already served by svc3"},
		{"that route given back", func(s string) string { return strings.Replace(s, `routes: ["/svc9", "/svc3"]`, `routes: ["/svc9"]`, 1) }, true, ""},
		{"a route declared twice in a service", func(s string) string {
			return strings.Replace(s, `routes: ["/svc7"]`, `routes: ["/svc7", "/svc7b", "/svc7"]`, 1)
		}, true, "is declared twice in svc7"},
		{"once", func(s string) string {
			return strings.Replace(s, `routes: ["/svc7", "/svc7b", "/svc7"]`, `routes: ["/svc7b"]`, 1)
		}, true, ""},
		{"a route that is not a path", func(s string) string { return strings.Replace(s, `routes: ["/svc7b"]`, `routes: ["svc7"]`, 1) }, true, "must start with /"},
		{"a path again, and a route moved from one service to another", func(s string) string {
			return strings.Replace(strings.Replace(s, `routes: ["svc7"]`, `routes: ["/svc7", "/svc8"]`, 1), `routes: ["/svc8"]`, `routes: []`, 1)
		}, true, ""},
		{"the route moved back", func(s string) string {
			return strings.Replace(strings.Replace(s, `routes: ["/svc7", "/svc8"]`, `routes: ["/svc7"]`, 1), `routes: []`, `routes: ["/svc8"]`, 1)
		}, true, ""},
		{"a route freed and taken in one edit, then another service takes it", func(s string) string {
			return strings.Replace(strings.Replace(s, `routes: ["/svc11"]`, `routes: ["/svc11", "/x"]`, 1), `routes: ["/svc12"]`, `routes: ["/svc12", "/x"]`, 1)
		}, true, "is already served by svc11"},
		{"the second one gives it up", func(s string) string { return strings.Replace(s, `routes: ["/svc12", "/x"]`, `routes: ["/svc12"]`, 1) }, true, ""},
		{"the first one gives it up and a third takes it", func(s string) string {
			return strings.Replace(strings.Replace(s, `routes: ["/svc11", "/x"]`, `routes: ["/svc11"]`, 1), `routes: ["/svc13"]`, `routes: ["/svc13", "/x"]`, 1)
		}, true, ""},
		{"an earlier service takes it too", func(s string) string { return strings.Replace(s, `routes: ["/svc10"]`, `routes: ["/svc10", "/x"]`, 1) }, true, "is already served by svc10"},
		{"and gives it up", func(s string) string { return strings.Replace(s, `routes: ["/svc10", "/x"]`, `routes: ["/svc10"]`, 1) }, true, ""},
		{"a route of a host of its own", func(s string) string {
			return strings.Replace(s, `routes: ["/svc14"]`, `routes: ["/svc14", "api.example.com/h/:name"]`, 1)
		}, true, ""},
		{"a host-less route that conflicts with it in that host's router", func(s string) string {
			return strings.Replace(s, `routes: ["/svc15"]`, `routes: ["/svc15", "/h/:id"]`, 1)
		}, true, "conflicts with another route"},
		{"both gone", func(s string) string {
			return strings.Replace(strings.Replace(s, `, "/h/:id"`, "", 1), `, "api.example.com/h/:name"`, "", 1)
		}, true, ""},
		{"a dependency on a process to complete", func(s string) string {
			return strings.Replace(s, `routes: ["/svc15"]`, `routes: ["/svc15"], depends_on: { worker: "completed" }`, 1)
		}, true, ""},
		{"the process made an http service: the dependent, unchanged, is told", func(s string) string {
			return strings.Replace(s, `worker { kind: "process", command: ["./w"]`, `worker { kind: "http", instances: ["http://127.0.0.1:7300"]`, 1)
		}, true, "only a process can complete"},
		{"the process back, the dependency dropped", func(s string) string {
			s = strings.Replace(s, `, depends_on: { worker: "completed" }`, "", 1)
			return strings.Replace(s, `worker { kind: "http", instances: ["http://127.0.0.1:7300"]`, `worker { kind: "process", command: ["./w"]`, 1)
		}, true, ""},
		{"a dependency cycle", func(s string) string {
			return strings.Replace(strings.Replace(s, `routes: ["/svc16"]`, `routes: ["/svc16"], depends_on: ["svc17"]`, 1), `routes: ["/svc17"]`, `routes: ["/svc17"], depends_on: ["svc16"]`, 1)
		}, true, "dependency cycle"},
		{"the cycle broken", func(s string) string { return strings.Replace(s, `, depends_on: ["svc16"]`, "", 1) }, true, ""},
		{"a key that does not apply to the service's kind: a warning", func(s string) string {
			return strings.Replace(s, `routes: ["/svc8"]`, `routes: ["/svc8"], restart: "always"`, 1)
		}, true, ""},
		{"an edit elsewhere: the warning is still told", func(s string) string { return strings.Replace(s, `timeout: "6s"`, `timeout: "7s"`, 1) }, true, ""},
		{"a line break at the start: the warning moves with its service", func(s string) string { return "\n" + s }, true, ""},
		{"the key removed: no warning", func(s string) string { return strings.Replace(s, `, restart: "always"`, "", 1) }, true, ""},
		{"a service removed", func(s string) string {
			return strings.Replace(s, "worker { kind: \"process\", command: [\"./w\"], calls: [\"svc7\", \"orders\"] }\n", "", 1)
		}, false, ""},
		{"a service added and the SMTP server changed", func(s string) string {
			return strings.Replace(strings.Replace(s, "port: 2526", "port: 2527", 1), "[circuit_breaker]", "added { kind: \"http\", instances: [\"http://127.0.0.1:7200\"] }\n\n[circuit_breaker]", 1)
		}, false, ""},
		{"the default auth policy set: every service inherits it", func(s string) string {
			return s + "\n[auth]\ndefault: \"keys\"\nkeys { kind: \"api_key\", keys: [\"k1\"] }\n"
		}, false, ""},
		{"an edit after that", func(s string) string { return strings.Replace(s, `timeout: "7s"`, `timeout: "5s"`, 1) }, true, ""},
		{"a rate limit by API key", func(s string) string {
			return strings.Replace(s, `routes: ["/svc25"]`, `routes: ["/svc25"], rate_limit { requests: 5, key: "api_key" }`, 1)
		}, true, ""},
		{"the policy made a JWT one: the service, unchanged, is told", func(s string) string {
			return strings.Replace(s, `keys { kind: "api_key", keys: ["k1"] }`, `keys { kind: "jwt", secret: "0123456789abcdef0123456789abcdef" }`, 1)
		}, true, "needs the service's auth to be an api_key policy"},
	}
	path := filepath.Join(t.TempDir(), "platform.tsk")
	cached, plain := &tsk.Loader{Cache: tsk.NewCache()}, &tsk.Loader{}
	src := base
	os.WriteFile(path, []byte(src), 0o644)
	prevGot, _, err := LoadResolved(cached, path)
	if err != nil {
		t.Fatal(err)
	}
	prevWant, _, _ := LoadResolved(plain, path)
	diffs := 0
	for _, step := range steps {
		next := step.edit(src)
		if next == src {
			t.Fatalf("%s: the edit changes nothing", step.name)
		}
		src = next
		os.WriteFile(path, []byte(src), 0o644)
		got, doc, gotErr := LoadResolved(cached, path)
		want, _, wantErr := LoadResolved(plain, path)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%s: problems %v, want %v", step.name, gotErr, wantErr)
		}
		if (gotErr == nil) != (step.problem == "") || gotErr != nil && !strings.Contains(gotErr.Error(), step.problem) {
			t.Fatalf("%s: problems %v, want %q", step.name, gotErr, step.problem)
		}
		res := lastResolution(doc.Memo(), doc)
		// The plan from the last load: Diff of the patched resolution
		// compares what the patch visited; the plan is that of the whole
		// loads.
		if gotErr == nil && prevGot != nil {
			if _, _, ok := changedSince(prevGot, got); ok {
				diffs++
			}
			if a, b := Diff(prevGot, got), Diff(prevWant, want); !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: the plan from the last load is\n%v\nwant\n%v", step.name, a, b)
			}
		}
		prevGot, prevWant = got, want
		// A load with problems is resolved too: compare what it resolved.
		if got == nil {
			p := Defaults()
			doc.Decode(p)
			got = Resolve(p, doc)
			wdoc, _ := plain.Load(path)
			wp := Defaults()
			wdoc.Decode(wp)
			want = Resolve(wp, wdoc)
		}
		if a, b := resolvedText(got), resolvedText(want); a != b {
			t.Fatalf("%s: the patched resolution differs from a whole one\npatched: %.3000s\nwhole:   %.3000s", step.name, a, b)
		}
		checkRegistry(t, step.name, got)
		gotWarnings, wantWarnings := Warnings(got), Warnings(want)
		if !reflect.DeepEqual(gotWarnings, wantWarnings) {
			t.Fatalf("%s: warnings %v, want %v", step.name, gotWarnings, wantWarnings)
		}
		if w := strings.Contains(step.name, "a warning") || strings.Contains(step.name, "the warning"); w != (len(gotWarnings) > 0) {
			t.Fatalf("%s: warnings %v", step.name, gotWarnings)
		}
		if res == nil || res.patched != step.patched {
			t.Errorf("%s: patched %v, want %v", step.name, res != nil && res.patched, step.patched)
		}
		// After a load without a problem, the routes by service go on to
		// the next one (their check then looks at the changed services).
		if res != nil && res.patched && res.lastClean && res.lastRoutes == nil {
			t.Errorf("%s: patched from a load without a problem, but not its routes", step.name)
		}
	}
	if diffs == 0 {
		t.Error("no plan compared only what a patch visited")
	}
}

// TestPatchedResolutionUnderRandomEdits: random edits of the kinds a
// user makes between two saves (a value, a call, a route, a kind, a
// line break, a service added or removed, a breaker block), each load
// with the cache of the ones before compared with a load without one:
// the resolution, the problems, the warnings and the plan from the last
// load. Most loads are patched; the others take the whole way.
func TestPatchedResolutionUnderRandomEdits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 120
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], calls: [\"svc%d\"], timeout: \"2s\" }", i, 7000+i, i, (i+1)%n)
	}
	breakers := []string{"svc1 { recovery_timeout: \"20s\" }", "svc2 { failure_threshold: 9 }"}
	platform := func() string {
		return "[composer]\nname: \"r\"\n\n[services]\n" + strings.Join(lines, "\n") + "\n\n[circuit_breaker]\nfailure_threshold: 5\n" +
			strings.Join(breakers, "\n") + "\n\n[event_routes]\nto_svc3 { topic: \"order.created\", to: [\"svc3\"] }\n"
	}
	svc := func() int { return rng.IntN(len(lines)) }
	timeout := regexp.MustCompile(`timeout: "[0-9]+s"`)
	httpKind := regexp.MustCompile(`kind: "http", instances: \["[^"]*"\]`)
	edits := []func(){
		func() { // a value
			i := svc()
			lines[i] = timeout.ReplaceAllString(lines[i], fmt.Sprintf(`timeout: "%ds"`, 1+rng.IntN(5)))
		},
		func() { // a call to another service, or to none that exists
			i, j := svc(), svc()
			if k := strings.Index(lines[i], "calls: ["); k >= 0 {
				end := strings.Index(lines[i][k:], "]") + k
				target := fmt.Sprintf("%q", strings.Fields(lines[j])[0])
				if rng.IntN(8) == 0 {
					target = `"nowhere"`
				}
				lines[i] = lines[i][:k] + "calls: [" + target + lines[i][end:]
			}
		},
		func() { // a route added, or taken back
			i := svc()
			if strings.Contains(lines[i], `, "/x`) {
				lines[i] = lines[i][:strings.Index(lines[i], `, "/x`)] + lines[i][strings.Index(lines[i], `"], calls`)+1:]
			} else {
				lines[i] = strings.Replace(lines[i], `"], calls`, fmt.Sprintf(`", "/x%d"], calls`, rng.IntN(6)), 1)
			}
		},
		func() { // an http service made a process
			i := svc()
			lines[i] = httpKind.ReplaceAllString(lines[i], `kind: "process", command: ["./p"]`)
		},
		func() { // a line break
			i := svc()
			if strings.HasPrefix(lines[i], "\n") {
				lines[i] = lines[i][1:]
			} else {
				lines[i] = "\n" + lines[i]
			}
		},
		func() { // a service added at the end, or the last one removed
			if rng.IntN(2) == 0 && len(lines) > n {
				lines = lines[:len(lines)-1]
			} else {
				k := len(lines)
				lines = append(lines, fmt.Sprintf("added%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/added%d\"] }", k, 8000+k, k))
			}
		},
		func() { // discovery from the registry, or not
			i := svc()
			if strings.Contains(lines[i], `, discovery: "registry"`) {
				lines[i] = strings.Replace(lines[i], `, discovery: "registry"`, "", 1)
			} else if strings.Contains(lines[i], `kind: "http"`) {
				lines[i] = strings.Replace(lines[i], `, timeout:`, `, discovery: "registry", timeout:`, 1)
			}
		},
		func() { // a breaker block
			breakers[rng.IntN(len(breakers))] = fmt.Sprintf("svc%d { recovery_timeout: \"%ds\" }", svc()%n, 10+rng.IntN(40))
		},
	}
	path := filepath.Join(t.TempDir(), "platform.tsk")
	cached, plain := &tsk.Loader{Cache: tsk.NewCache()}, &tsk.Loader{}
	var prevGot, prevWant *Resolved
	patched, problems := 0, 0
	undo := false // the last edit made a problem: this step takes it back
	goodLines, goodBreakers := slices.Clone(lines), slices.Clone(breakers)
	for step := range 150 {
		if undo {
			lines, breakers, undo = slices.Clone(goodLines), slices.Clone(goodBreakers), false
		} else {
			edits[rng.IntN(len(edits))]()
		}
		src := platform()
		os.WriteFile(path, []byte(src), 0o644)
		got, doc, gotErr := LoadResolved(cached, path)
		want, _, wantErr := LoadResolved(plain, path)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("step %d: problems %v, want %v\n%s", step, gotErr, wantErr, src)
		}
		if res := lastResolution(doc.Memo(), doc); res != nil && res.patched {
			patched++
		}
		if got == nil {
			problems++
			prevGot, prevWant, undo = nil, nil, true
			continue
		}
		goodLines, goodBreakers = slices.Clone(lines), slices.Clone(breakers)
		if a, b := resolvedText(got), resolvedText(want); a != b {
			t.Fatalf("step %d: the cached resolution differs from a whole one\ncached: %.2000s\nwhole:  %.2000s", step, a, b)
		}
		if a, b := Warnings(got), Warnings(want); !reflect.DeepEqual(a, b) {
			t.Fatalf("step %d: warnings %v, want %v", step, a, b)
		}
		checkRegistry(t, fmt.Sprintf("step %d", step), got)
		if prevGot != nil {
			if a, b := Diff(prevGot, got), Diff(prevWant, want); !reflect.DeepEqual(a, b) {
				t.Fatalf("step %d: the plan is\n%v\nwant\n%v", step, a, b)
			}
		}
		prevGot, prevWant = got, want
	}
	t.Logf("%d of 150 loads patched, %d with problems", patched, problems)
	if patched < 100 || problems == 0 {
		t.Errorf("%d of 150 loads patched, %d with problems: the test does not test patching, or problems", patched, problems)
	}
}

// checkRegistry: the services r knows to discover their instances are
// those whose discovery is the registry.
func checkRegistry(t *testing.T, step string, r *Resolved) {
	t.Helper()
	var known, want []string
	r.eachRegistry(func(name string, s *ResolvedService) {
		if r.registry != nil {
			known = append(known, name)
		}
	})
	for name, s := range r.Services {
		if s.Discovery == "registry" {
			want = append(want, name)
		}
	}
	slices.Sort(known)
	slices.Sort(want)
	if r.registry == nil || !slices.Equal(known, want) {
		t.Fatalf("%s: the registry services are %v, want %v", step, known, want)
	}
}
