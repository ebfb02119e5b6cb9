package tsk

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/randedit"
)

// TestLoaderCache: a Loader with a cache loads a file again as without
// one, also one that reads itself with @file.tsk.get while it is
// evaluated (its parse does not wait for itself) and one that includes
// another.
func TestLoaderCache(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "self.tsk")
	os.WriteFile(self, []byte("y: 1\nx: @self.tsk.get(\"y\")\n#include \"more.tsk\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "more.tsk"), []byte("z: 2\n"), 0o644)
	cached := &Loader{LookupEnv: func(string) (string, bool) { return "", false }, Cache: NewCache()}
	plain := &Loader{LookupEnv: cached.LookupEnv}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			a, errA := cached.Load(self)
			b, errB := plain.Load(self)
			if string(a.Root.JSON("")) != string(b.Root.JSON("")) || (errA == nil) != (errB == nil) {
				t.Errorf("with the cache %s (%v), without %s (%v)", a.Root.JSON(""), errA, b.Root.JSON(""), errB)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a load with the cache did not end")
	}
}

// TestCacheEvaluatesAsWithout: a file loaded again with the cache of its
// previous versions gives the document (values, positions and files) and
// the problems of a load without a cache, over random edits of every
// corpus file and of a big platform: characters typed and deleted, and
// lines copied elsewhere (which reopens blocks and sections, so that a
// later statement merges into a value the memo holds); and the memo is
// used.
func TestCacheEvaluatesAsWithout(t *testing.T) {
	files, sources := randedit.Corpus(t)
	var big strings.Builder
	big.WriteString("$port: 7000\n[services]\n")
	for i := range 500 {
		fmt.Fprintf(&big, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], retries: %d }\n", i, 7000+i, i, i%3)
	}
	big.WriteString("users { port: $port, health { path: \"/h\" } }\nnext: users\n[services.svc3]\nretries: 9\n[events]\nbus: \"embedded\"\n")
	sources = append(sources, big.String())
	dir := t.TempDir()
	env := func(name string) (string, bool) { return "v-" + name, name != "UNSET" }
	now := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	cache := NewCache()
	cached := &Loader{LookupEnv: env, Now: now, Cache: cache}
	plain := &Loader{LookupEnv: env, Now: now}
	rng := rand.New(rand.NewPCG(3, 4))
	edits := []string{" ", "a", "\n", "1", "\"", "{", "}", "x: 2\n", "#c\n", "$v: 1\n"}
	for n, src := range sources {
		path := filepath.Join(dir, fmt.Sprintf("f%d.tsk", n))
		for step := range 14 {
			if step > 0 {
				src = randedit.Edit(rng, src, edits)
			}
			os.WriteFile(path, []byte(src), 0o644)
			got, gotErr := cached.Load(path)
			want, wantErr := plain.Load(path)
			if !reflect.DeepEqual(got.Root, want.Root) || !reflect.DeepEqual(got.Files, want.Files) || !reflect.DeepEqual(gotErr, wantErr) {
				t.Fatalf("%s, step %d: the cached load differs from the uncached one\ncached:   %v\n%.600s\nuncached: %v\n%.600s\nsource:\n%.2000s", filepath.Base(files[min(n, len(files)-1)]), step,
					gotErr, got.Root.JSON(""), wantErr, want.Root.JSON(""), src)
			}
		}
	}
	if cache.hits.Load() == 0 {
		t.Error("the memo was never used")
	}
	t.Logf("%d statements taken from the memo", cache.hits.Load())
}

// TestCacheMergesIntoACopy: a block reopened after a statement whose
// value came from the memo merges into a copy, so that the next load
// (which takes the statement from the memo again) does not see the
// merged keys twice, nor lose them when the reopening goes.
func TestCacheMergesIntoACopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.tsk")
	l := &Loader{LookupEnv: func(string) (string, bool) { return "", false }, Cache: NewCache()}
	load := func(src string) string {
		t.Helper()
		os.WriteFile(path, []byte(src), 0o644)
		doc, err := l.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(doc.Root.JSON(""))
	}
	// The filler puts what changes in pieces of the parse of their own.
	var filler strings.Builder
	var fillJSON []string
	for i := range 300 {
		fmt.Fprintf(&filler, "f%d { v: %d }\n", i, i)
		fillJSON = append(fillJSON, fmt.Sprintf(`"f%d":{"v":%d}`, i, i))
	}
	fill, fj := filler.String(), strings.Join(fillJSON, ",")
	base := "[services]\na { x: 1 }\nb { y: 2 }\n" + fill
	steps := []struct{ src, want string }{
		{base, `{"services":{"a":{"x":1},"b":{"y":2},` + fj + `}}`},
		{base + "a { z: 3 }\n", `{"services":{"a":{"x":1,"z":3},"b":{"y":2},` + fj + `}}`},
		{base + "a { z: 4 }\n", `{"services":{"a":{"x":1,"z":4},"b":{"y":2},` + fj + `}}`},
		{base + "[services.b]\nw: 5\n", `{"services":{"a":{"x":1},"b":{"y":2,"w":5},` + fj + `}}`},
		{base + "[services.b]\nw: 6\n", `{"services":{"a":{"x":1},"b":{"y":2,"w":6},` + fj + `}}`},
		{base, `{"services":{"a":{"x":1},"b":{"y":2},` + fj + `}}`},
	}
	for i, s := range steps {
		got := load(s.src)
		if got != s.want {
			t.Errorf("step %d: %.200s, want %.200s", i, got, s.want)
		}
	}
	if l.Cache.hits.Load() == 0 {
		t.Error("no statement was taken from the memo: the test does not test it")
	}
}

// TestCacheFollowsWhatAStatementReads: a statement whose text did not
// change is evaluated again when it reads what may have: a variable, an
// interpolated key, a bare name of an earlier key, the environment, the
// clock, another file, a variable set inside a block. Filler statements
// put the change and the statement in different pieces of the parse, so
// that the statement's tree is handed out again.
func TestCacheFollowsWhatAStatementReads(t *testing.T) {
	var filler strings.Builder
	for i := range 400 {
		fmt.Fprintf(&filler, "f%d { v: %d }\n", i, i)
	}
	fill := filler.String()
	cases := []struct {
		name          string
		before, after string    // the main file; {{fill}} is the filler
		other         [2]string // other.tsk before and after
	}{
		{"variable", "$p: 1\n" + fill + "a { port: $p }\n", "$p: 2\n" + fill + "a { port: $p }\n", [2]string{}},
		{"interpolation", "$h: \"x\"\n" + fill + "a { url: \"http://${h}\" }\n", "$h: \"y\"\n" + fill + "a { url: \"http://${h}\" }\n", [2]string{}},
		{"earlier key", "b: 1\n" + fill + "c: b\n", "b: 2\n" + fill + "c: b\n", [2]string{}},
		{"earlier key in an array", "b: 1\n" + fill + "c: [b]\n", "b: 2\n" + fill + "c: [b]\n", [2]string{}},
		{"var()", "$x: 1\n" + fill + "a { k: var(\"x\") }\n", "$x: 3\n" + fill + "a { k: var(\"x\") }\n", [2]string{}},
		{"environment", fill + "a { k: @env(\"K\") }\n", fill + "a { k: @env(\"K\") }\n", [2]string{}},
		{"clock", fill + "a { k: @date(\"s\") }\n", fill + "a { k: @date(\"s\") }\n", [2]string{}},
		{"another file", fill + "a { k: @other.tsk.get(\"v\") }\n", fill + "a { k: @other.tsk.get(\"v\") }\n", [2]string{"v: 1\n", "v: 2\n"}},
		{"an include in a block", fill + "a {\n#include \"other.tsk\"\n}\n", fill + "a {\n#include \"other.tsk\"\n}\n", [2]string{"v: 1\n", "v: 2\n"}},
		{"an include", fill + "#include \"other.tsk\"\n", fill + "#include \"other.tsk\"\n", [2]string{"v: 1\n" + fill, "v: 2\n" + fill}},
		{"a variable set in a block", "a { $q: 1 }\n" + fill + "b { z: $q }\n", "a { $q: 1 }\n" + fill + "b { z: $q }\n", [2]string{}},
		{"a variable an include reads", "$v: 1\n" + fill + "#include \"other.tsk\"\n", "$v: 2\n" + fill + "#include \"other.tsk\"\n", [2]string{fill + "w { x: $v }\n", fill + "w { x: $v }\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path, other := filepath.Join(dir, "p.tsk"), filepath.Join(dir, "other.tsk")
			envK, clock := "one", time.Date(2026, 12, 2, 10, 0, 1, 0, time.UTC)
			env := func(name string) (string, bool) { return envK, name == "K" }
			now := func() time.Time { return clock }
			cache := NewCache()
			cached := &Loader{LookupEnv: env, Now: now, Cache: cache}
			plain := &Loader{LookupEnv: env, Now: now}
			for step, src := range []string{c.before, c.after} {
				if step == 1 {
					envK, clock = "two", clock.Add(time.Second)
				}
				os.WriteFile(path, []byte(src), 0o644)
				os.WriteFile(other, []byte(c.other[step]), 0o644)
				got, gotErr := cached.Load(path)
				want, wantErr := plain.Load(path)
				if !reflect.DeepEqual(got.Root, want.Root) || !reflect.DeepEqual(got.Files, want.Files) || !reflect.DeepEqual(gotErr, wantErr) {
					t.Fatalf("step %d: cached %v %.300s\nuncached %v %.300s", step, gotErr, got.Root.JSON(""), wantErr, want.Root.JSON(""))
				}
			}
			if cache.hits.Load() == 0 {
				t.Error("no statement was taken from the memo: the case does not test it")
			}
		})
	}
}

// TestDecodeMemo: the entries of a map of structs that the last load
// decoded from the same values are taken from the memo, with the same
// result as a decoding without it; an entry with a problem is decoded
// (and reported) again.
func TestDecodeMemo(t *testing.T) {
	type svc struct {
		Port  int      `tsk:"port"`
		Names []string `tsk:"names"`
	}
	type cfg struct {
		Services map[string]*svc `tsk:"services"`
	}
	var filler strings.Builder
	for i := range 300 {
		fmt.Fprintf(&filler, "s%d { port: %d, names: [\"a%d\"] }\n", i, i, i)
	}
	path := filepath.Join(t.TempDir(), "p.tsk")
	cached, plain := &Loader{Cache: NewCache()}, &Loader{}
	for step, tail := range []string{"bad { port: \"x\" }\n", "bad { port: \"x\" }\n", "bad { port: 1 }\n"} {
		os.WriteFile(path, []byte("[services]\n"+filler.String()+tail), 0o644)
		a, err := cached.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := plain.Load(path)
		var got, want cfg
		errGot, errWant := a.Decode(&got), b.Decode(&want)
		if !reflect.DeepEqual(got, want) || fmt.Sprint(errGot) != fmt.Sprint(errWant) {
			t.Fatalf("step %d: with the memo %v (%v), without %v (%v)", step, got.Services["bad"], errGot, want.Services["bad"], errWant)
		}
		if step < 2 && errGot == nil {
			t.Fatalf("step %d: the bad port was not reported", step)
		}
		if hits := TableOf[decodeKey, any](a.Memo(), "tsk.decode").Hits(); step > 0 && hits < 250*step { // the statements in the piece of the change are new values
			t.Errorf("step %d: %d entries taken from the memo, want %d or more", step, hits, 250*step)
		}
	}
}

// TestCacheKeepsValuesAlongTheirLine: a character typed on an earlier
// line moves the later statements' text along, not to another line, and
// their values are the ones made before (positions carry no offset, so
// nothing in them moved); a line break moves them to the next line, and
// their values are copies with the new lines.
func TestCacheKeepsValuesAlongTheirLine(t *testing.T) {
	loadDoc := cachedLoads(t)
	load := func(src string) *Value { return loadDoc(src).Root.Obj.Get("last") }
	var filler strings.Builder
	for i := range 300 {
		fmt.Fprintf(&filler, "f%d { v: %d }\n", i, i)
	}
	tail := filler.String() + "last { port: 7000, tags: [\"a\", \"b\"] }\n"
	before := load("first: 1\n" + tail)
	typed := load("first: 12\n" + tail)
	if typed != before {
		t.Error("a character typed on the first line made the last statement's value again")
	}
	broken := load("first: 12\n\n" + tail)
	if broken == before {
		t.Fatal("a line break before the last statement kept its value, and its old line")
	}
	if got, want := broken.Obj.Get("port").Pos.Line, before.Obj.Get("port").Pos.Line+1; got != want {
		t.Errorf("after a line break, port is at line %d, want %d", got, want)
	}
	if broken.Obj.Get("port").Pos.Offset != 0 {
		t.Errorf("a moved value has an offset: %+v", broken.Obj.Get("port").Pos)
	}
}

// TestCacheKeepsStatementsOfAPieceParsedAgain: a statement next to the
// edited one (in the same piece of the parse, which is parsed again) has
// the value its text had, not a new one; the edited one has a new value,
// and a second statement of the same text elsewhere gets its own copy.
func TestCacheKeepsStatementsOfAPieceParsedAgain(t *testing.T) {
	load := cachedLoads(t)
	before := load("[a]\nx { port: 1 }\ny { port: 2 }\n")
	after := load("[a]\nx { port: 1 }\ny { port: 3 }\n[b]\nx { port: 1 }\n")
	a, b := after.Root.Obj.Get("a"), after.Root.Obj.Get("b")
	if a.Obj.Get("x") != before.Root.Obj.Get("a").Obj.Get("x") {
		t.Error("x, unchanged beside the edit, was made again")
	}
	if a.Obj.Get("y") == before.Root.Obj.Get("a").Obj.Get("y") || a.Obj.Get("y").Obj.Get("port").Int != 3 {
		t.Error("y, edited, kept its value")
	}
	if bx := b.Obj.Get("x"); bx == a.Obj.Get("x") || bx.Pos.Line != 5 || bx.Obj.Get("port").Int != 1 {
		t.Errorf("[b] x shares [a] x's value, or is not where it is written: %+v", bx.Pos)
	}
}

// cachedLoads returns a function that writes src to one file and loads
// it with one cache, failing the test on a problem.
func cachedLoads(t *testing.T) func(src string) *Document {
	path := filepath.Join(t.TempDir(), "p.tsk")
	l := &Loader{LookupEnv: func(string) (string, bool) { return "", false }, Cache: NewCache()}
	return func(src string) *Document {
		t.Helper()
		os.WriteFile(path, []byte(src), 0o644)
		doc, err := l.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
}
