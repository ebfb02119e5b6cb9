package tsk_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

// writeFiles creates files under a temporary directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFilesListsEverySource(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tsk":      "#include \"conf/base.tsk\"\nport: @other.tsk.get(\"port\")\n#include \"missing.tsk\"\n",
		"conf/base.tsk": "#include \"more.tsk\"\nbase: 1\n",
		"conf/more.tsk": "more: 2\n",
		"other.tsk":     "port: 8080\n",
	})
	doc, err := tsk.Load(filepath.Join(dir, "main.tsk"))
	if err == nil || !strings.Contains(err.Error(), "missing.tsk") {
		t.Fatalf("want an error about missing.tsk, got %v", err)
	}
	var got []string
	for _, f := range doc.Files {
		rel, _ := filepath.Rel(dir, f)
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{"main.tsk", "conf/base.tsk", "conf/more.tsk", "other.tsk", "missing.tsk"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	if v := doc.Lookup("port"); v == nil || v.Int != 8080 {
		t.Errorf("port = %v, want 8080 from other.tsk", v)
	}
}

func TestLoadBytesResolvesFromItsName(t *testing.T) {
	dir := writeFiles(t, map[string]string{"inc.tsk": "x: 1\n"})
	doc, err := (&tsk.Loader{}).LoadBytes(filepath.Join(dir, "virtual.tsk"), []byte("#include \"inc.tsk\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Lookup("x") == nil {
		t.Error("x from the included file is missing")
	}
}

func TestLoadMissingFile(t *testing.T) {
	doc, err := tsk.Load(filepath.Join(t.TempDir(), "nope.tsk"))
	if err == nil || doc == nil || len(doc.Files) != 1 {
		t.Fatalf("want an error and a document listing the file, got %v, %+v", err, doc)
	}
}

func TestLookup(t *testing.T) {
	doc, err := (&tsk.Loader{}).LoadBytes("l.tsk", []byte("a { b { c: 1 }, list: [10, {x: \"y\"}] }\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"a.b.c":       "1",
		"a.list.0":    "10",
		"a.list.1.x":  "y",
		"a.list.2":    "<nil>",
		"a.b.missing": "<nil>",
		"a.b.c.d":     "<nil>",
		"a.list.-1":   "<nil>",
	}
	for path, want := range tests {
		got := "<nil>"
		if v := doc.Lookup(path); v != nil {
			got, _ = v.Text()
		}
		if got != want {
			t.Errorf("Lookup(%q) = %s, want %s", path, got, want)
		}
	}
}

func TestMapKeepsOrderAndPlace(t *testing.T) {
	m := tsk.NewMap()
	for i := range 20 { // past the size where the map builds its index
		m.Set(fmt.Sprintf("k%d", 19-i), tsk.Pos{}, &tsk.Value{Kind: tsk.Int, Int: int64(i)})
	}
	m.Set("k10", tsk.Pos{}, &tsk.Value{Kind: tsk.String, Str: "again"})
	keys := m.Keys()
	if keys[0] != "k19" || keys[19] != "k0" || keys[9] != "k10" || len(keys) != 20 {
		t.Errorf("keys = %v", keys)
	}
	if m.Get("k10").Str != "again" || m.Get("k3").Int != 16 || m.Get("nope") != nil {
		t.Error("Get returns wrong values")
	}
}

func TestEnvMarksValues(t *testing.T) {
	l := &tsk.Loader{LookupEnv: func(string) (string, bool) { return "s3cret", true }}
	doc, err := l.LoadBytes("e.tsk", []byte("$p: @env(\"PASSWORD\")\nraw: $p\nurl: \"db://u:${p}@h\"\njoined: \"x\" + $p\nplain: \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"raw", "url", "joined"} {
		v := doc.Lookup(key)
		if !v.FromEnv {
			t.Errorf("%s is not marked as coming from the environment", key)
		}
		if strings.Contains(v.Describe(), "s3cret") {
			t.Errorf("%s: Describe shows the secret: %s", key, v.Describe())
		}
	}
	if doc.Lookup("plain").FromEnv {
		t.Error("plain is marked as coming from the environment")
	}
}

func TestInterfaceAndEqual(t *testing.T) {
	src := []byte("a: 1\nb: [true, null, 2.5]\nc { d: \"x\" }\nr: 1-2\n")
	doc1, err1 := (&tsk.Loader{}).LoadBytes("a.tsk", src)
	doc2, err2 := (&tsk.Loader{}).LoadBytes("b.tsk", src)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	want := map[string]any{
		"a": int64(1), "b": []any{true, nil, 2.5}, "c": map[string]any{"d": "x"},
		"r": map[string]any{"min": int64(1), "max": int64(2), "type": "range"},
	}
	if got := doc1.Root.Interface(); !reflect.DeepEqual(got, want) {
		t.Errorf("Interface = %#v", got)
	}
	if !tsk.Equal(doc1.Root, doc2.Root) {
		t.Error("equal documents compare unequal")
	}
	doc3, _ := (&tsk.Loader{}).LoadBytes("c.tsk", []byte("c { d: \"x\" }\na: 1\nb: [true, null, 2.5]\nr: 1-2\n"))
	if tsk.Equal(doc1.Root, doc3.Root) {
		t.Error("documents with keys in another order compare equal")
	}
}

// FuzzEval checks that no input makes the evaluator panic and that every
// diagnostic carries a position.
func FuzzEval(f *testing.F) {
	seeds, _ := filepath.Glob(corpusDir + "/*.tsk")
	more, _ := filepath.Glob("testdata/eval/*.tsk")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	l := testLoader()
	l.ReadFile = func(p string) ([]byte, error) {
		if p == "inc.tsk" {
			return []byte("x: 1\n#include \"inc.tsk\"\n"), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := l.LoadBytes("f.tsk", src)
		if doc == nil || doc.Root == nil {
			t.Fatal("nil document")
		}
		if err != nil {
			for _, d := range err.(tsk.Diagnostics) {
				if d.Pos.Line < 1 || d.Pos.Column < 1 {
					t.Fatalf("diagnostic without position: %v", d)
				}
			}
		}
	})
}
