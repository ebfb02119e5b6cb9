package composer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/randedit"
	"github.com/tuskcompose/composer/tsk"
)

// TestMemoResolvesAsWithout: a platform loaded again with the cache of
// its previous versions resolves and validates as a load without one
// (the resolved platform, its warnings and every problem, at the same
// places), over random edits of the repository's platform files and of
// a big platform with per-service breakers and health checks: characters
// typed and deleted and lines copied elsewhere; and the memo is used.
func TestMemoResolvesAsWithout(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/platform.tsk")
	files = append(files, "../platform.tsk", "testdata/typos.tsk", "testdata/plan_before.tsk", "testdata/plan_after.tsk")
	var sources []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	var big strings.Builder
	big.WriteString("[composer]\nname: \"big\"\n\n[services]\n")
	for i := range 300 {
		fmt.Fprintf(&big, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], calls: [\"svc%d\"], timeout: \"2s\" }\n", i, 7000+i, i, (i+1)%300)
	}
	big.WriteString("\n[circuit_breaker]\nfailure_threshold: 5\n")
	for i := 0; i < 300; i += 3 {
		fmt.Fprintf(&big, "svc%d { recovery_timeout: \"%ds\" }\n", i, 10+i%50)
	}
	big.WriteString("\n[health_checks]\ninterval: \"5s\"\n")
	for i := 0; i < 300; i += 7 {
		fmt.Fprintf(&big, "svc%d { path: \"/h%d\", outlier_detection { consecutive_failures: %d } }\n", i, i, 2+i%3)
	}
	sources = append(sources, big.String())

	dir := t.TempDir()
	env := func(name string) (string, bool) { return "v-" + name, true }
	cache := tsk.NewCache()
	cached := &tsk.Loader{LookupEnv: env, Cache: cache}
	plain := &tsk.Loader{LookupEnv: env}
	rng := rand.New(rand.NewPCG(5, 6))
	edits := []string{" ", "a", "\n", "1", "\"", "}", "x: 2\n", "s", "0"}
	var memo *tsk.Memo
	patched, kept := 0, 0
	for n, src := range sources {
		path := filepath.Join(dir, fmt.Sprintf("p%d.tsk", n))
		for step := range 16 {
			if step > 0 {
				src = randedit.Edit(rng, src, edits)
			}
			os.WriteFile(path, []byte(src), 0o644)
			got, gotDoc, gotErr := LoadResolved(cached, path)
			want, _, wantErr := LoadResolved(plain, path)
			if a, b := resolvedText(got), resolvedText(want); a != b || !reflect.DeepEqual(gotErr, wantErr) {
				t.Fatalf("%s, step %d: the cached load differs from the uncached one\ncached:   %v\n%.1500s\nuncached: %v\n%.1500s", files[min(n, len(files)-1)], step, gotErr, a, wantErr, b)
			}
			if got != nil && !reflect.DeepEqual(Warnings(got), Warnings(want)) {
				t.Fatalf("%s, step %d: warnings %v, want %v", files[min(n, len(files)-1)], step, Warnings(got), Warnings(want))
			}
			memo = gotDoc.Memo()
			if res := lastResolution(memo, gotDoc); res != nil && got != nil {
				kept += res.kept
				if res.patched {
					patched++
				}
			}
		}
	}
	for name, hits := range map[string]int{
		"patched resolutions": patched,
		"kept services":       kept,
		"composer.validate":   tsk.TableOf[validKey, bool](memo, "composer.validate").Hits(),
		"composer.breakers":   tsk.TableOf[breakerKey, breaker.Settings](memo, "composer.breakers").Hits(),
	} {
		if hits == 0 {
			t.Errorf("the memo's %s was never used", name)
		}
	}
}

// resolvedText is a resolved platform as text, with where each service
// and event route is written (what diagnostics report at).
func resolvedText(r *Resolved) string {
	if r == nil {
		return "<nil>"
	}
	b, _ := json.MarshalIndent(r, "", " ")
	var where []string
	for name, s := range r.Services {
		where = append(where, fmt.Sprintf("%s@%v-%v", name, s.Src.Pos(), s.Src.End()))
	}
	for name, e := range r.EventRoutes {
		where = append(where, fmt.Sprintf("route %s@%v-%v", name, e.Src.Pos(), e.Src.End()))
	}
	slices.Sort(where)
	return string(b) + "\n" + strings.Join(where, "\n")
}

// TestMemoFollowsWhatAServiceInherits: a service whose block did not
// change is resolved again when what it inherits did: the section
// defaults of [health_checks] and [circuit_breaker], its own blocks
// there, the default auth policy.
func TestMemoFollowsWhatAServiceInherits(t *testing.T) {
	var fill strings.Builder
	for i := range 200 {
		fmt.Fprintf(&fill, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], calls: [\"svc0\"] }\n", i, 7000+i, i)
	}
	// Blocks of other services put a section's defaults and svc0's block
	// in different pieces of the parse.
	var breakers, checks strings.Builder
	for i := 1; i < 150; i++ {
		fmt.Fprintf(&breakers, "svc%d { recovery_timeout: \"%ds\" }\n", i, i)
		fmt.Fprintf(&checks, "svc%d { path: \"/h%d\" }\n", i, i)
	}
	platform := func(interval, path, threshold, recovery, auth string) string {
		return "[composer]\nname: \"m\"\n\n[services]\n" + fill.String() +
			"\n[health_checks]\ninterval: \"" + interval + "\"\n" + checks.String() + "svc0 { path: \"" + path + "\" }\n" +
			"\n[circuit_breaker]\nfailure_threshold: " + threshold + "\n" + breakers.String() + "svc0 { recovery_timeout: \"" + recovery + "\" }\n" +
			"\n[auth]\ndefault: \"" + auth + "\"\nkeys { kind: \"api_key\", keys: [\"k1\"] }\nother { kind: \"api_key\", keys: [\"k2\"] }\n"
	}
	steps := []string{
		platform("5s", "/h", "5", "10s", "keys"),
		platform("6s", "/h", "5", "10s", "keys"),
		platform("6s", "/g", "5", "10s", "keys"),
		platform("6s", "/g", "7", "10s", "keys"),
		platform("6s", "/g", "7", "20s", "keys"),
		platform("6s", "/g", "7", "20s", "other"),
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "platform.tsk")
	cache := tsk.NewCache()
	cached, plain := &tsk.Loader{Cache: cache}, &tsk.Loader{}
	var memo *tsk.Memo
	for i, src := range steps {
		os.WriteFile(path, []byte(src), 0o644)
		got, doc, gotErr := LoadResolved(cached, path)
		want, _, wantErr := LoadResolved(plain, path)
		if gotErr != nil || wantErr != nil {
			t.Fatalf("step %d: %v / %v", i, gotErr, wantErr)
		}
		if a, b := resolvedText(got), resolvedText(want); a != b {
			t.Fatalf("step %d: the cached load differs from the uncached one\ncached:   %.3000s\nuncached: %.3000s", i, a, b)
		}
		memo = doc.Memo()
		// Steps 1 and 5 change what every service inherits; the others
		// keep the services that did not change.
		if res := lastResolution(memo, doc); (i == 2 || i == 3 || i == 4) && res.kept < len(got.Services)-1 {
			t.Errorf("step %d: %d services kept of %d", i, res.kept, len(got.Services))
		}
	}
	if tsk.TableOf[breakerKey, breaker.Settings](memo, "composer.breakers").Hits() == 0 {
		t.Error("no service or breaker was taken from the memo: the test does not test it")
	}
}

// TestDiffOfKeptServices: the plan of a reload whose unchanged services
// are the very values that run, or values made as them whose text moved
// (a cached load), is the plan of the same reload between two loads
// without a cache.
func TestDiffOfKeptServices(t *testing.T) {
	before, err := os.ReadFile("testdata/plan_before.tsk")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile("testdata/plan_after.tsk")
	// Services written as blocks, before the edits (they stay where they
	// are) or after them (they move): the memo's unit is a top-level
	// statement (a service written as a section of its own, [services.x],
	// is an object the evaluation makes again at every load).
	var fill strings.Builder
	fill.WriteString("\n[services]\n")
	for i := range 200 {
		fmt.Fprintf(&fill, "fill%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/fill%d/*path\"] }\n", i, 7100+i, i)
	}
	fill.WriteString("\n")
	for _, place := range []string{"before the edits", "after the edits"} {
		t.Run(place, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "platform.tsk")
			load := func(l *tsk.Loader, src []byte) *Resolved {
				t.Helper()
				text := append([]byte(fill.String()), src...)
				if place == "after the edits" {
					text = append(append([]byte{}, src...), fill.String()...)
				}
				os.WriteFile(path, text, 0o644)
				r, _, err := LoadResolved(l, path)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			cached, plain := &tsk.Loader{Cache: tsk.NewCache()}, &tsk.Loader{}
			curCached, nextCached := load(cached, before), load(cached, after)
			curPlain, nextPlain := load(plain, before), load(plain, after)
			kept := 0
			for name, s := range nextCached.Services {
				if c := curCached.Services[name]; c != nil && c.origin != nil && c.origin == s.origin {
					kept++
					if s.Src.Pos() != nextPlain.Services[name].Src.Pos() {
						t.Fatalf("%s is at %v, want %v", name, s.Src.Pos(), nextPlain.Services[name].Src.Pos())
					}
				}
			}
			if kept < 150 { // those in the piece of a change are parsed again
				t.Fatalf("%d services kept between the cached loads, want most of the 200 unchanged ones", kept)
			}
			got, want := Diff(curCached, nextCached), Diff(curPlain, nextPlain)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the plan with kept services differs:\n%v\nwant\n%v", got, want)
			}
			if len(want) == 0 {
				t.Error("the reload changes nothing: the test does not test it")
			}
		})
	}
}

// TestSortedKeysOf: the sorted names are the last ones when the keys are
// the same, and sorted again when one differs (the same number of keys).
func TestSortedKeysOf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.tsk")
	os.WriteFile(path, []byte("[composer]\nname: \"p\"\n"), 0o644)
	doc, err := (&tsk.Loader{Cache: tsk.NewCache()}).Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolved{doc: doc}
	first := sortedKeysOf(r, "names", map[string]int{"b": 1, "a": 2})
	again := sortedKeysOf(r, "names", map[string]bool{"a": true, "b": false})
	other := sortedKeysOf(r, "names", map[string]int{"c": 1, "a": 2})
	if !slices.Equal(first, []string{"a", "b"}) || &again[0] != &first[0] {
		t.Errorf("the same keys: %v then %v (a new list)", first, again)
	}
	if !slices.Equal(other, []string{"a", "c"}) {
		t.Errorf("a key changed: %v, want [a c]", other)
	}
	if got := sortedKeysOf(&Resolved{}, "names", map[string]int{"z": 1, "y": 2}); !slices.Equal(got, []string{"y", "z"}) {
		t.Errorf("without a memo: %v", got)
	}
}

// TestRouteConflictsInGroups: among many routes with static first
// segments (tried in groups by first segment), a conflict is reported at
// its route, with a memo and without, and again after an edit elsewhere;
// routes of different first segments that share a prefix do not conflict.
func TestRouteConflictsInGroups(t *testing.T) {
	var b strings.Builder
	b.WriteString("[services]\n")
	for i := range 100 {
		fmt.Fprintf(&b, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d/*path\", \"/svc%dx/:id\"] }\n", i, 7000+i, i, i)
	}
	b.WriteString("late { kind: \"http\", instances: [\"http://127.0.0.1:6999\"], routes: [\"/svc42/:id\"] }\n")
	path := filepath.Join(t.TempDir(), "p.tsk")
	cached := &tsk.Loader{LookupEnv: noEnv, Cache: tsk.NewCache()}
	for step, src := range []string{b.String(), b.String() + "# an edit elsewhere\n"} {
		os.WriteFile(path, []byte(src), 0o644)
		for _, l := range []*tsk.Loader{cached, {LookupEnv: noEnv}} {
			_, _, err := LoadResolved(l, path)
			ds := tsk.AsDiagnostics(err, path)
			if len(ds) != 1 || !strings.Contains(ds[0].Msg, `route "/svc42/:id" conflicts`) || ds[0].Pos.Line != 102 {
				t.Errorf("step %d: %v, want one conflict of /svc42/:id at line 102", step, ds)
			}
		}
	}
}
