package tsk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/parser/format"
	"github.com/tuskcompose/composer/tsk"
)

// TestFormatKeepsMeaning checks that `tsk fmt` never changes what a file
// means: every golden input and every corpus file that evaluates evaluates
// to exactly the same document after formatting, and formatting twice
// changes nothing.
func TestFormatKeepsMeaning(t *testing.T) {
	// The files that evaluate: those with a .json golden.
	var files []string
	goldens, _ := filepath.Glob("testdata/eval/*.json")
	for _, g := range goldens {
		files = append(files, strings.TrimSuffix(g, ".json")+".tsk")
	}
	goldens, _ = filepath.Glob("testdata/corpus/*.json")
	for _, g := range goldens {
		files = append(files, filepath.Join(corpusDir, strings.TrimSuffix(filepath.Base(g), ".json")+".tsk"))
	}
	if len(files) < 20 {
		t.Fatalf("only %d files", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			before, err := testLoader().LoadBytes(file, src)
			if err != nil {
				t.Fatal(err)
			}
			formatted, diags := format.Source(file, src)
			if len(diags) > 0 {
				t.Fatalf("format: %v", diags)
			}
			after, err := testLoader().LoadBytes(file, formatted)
			if err != nil {
				t.Fatalf("the formatted file does not evaluate: %v\n%s", err, formatted)
			}
			if !tsk.Equal(before.Root, after.Root) {
				t.Errorf("formatting changed the document:\nbefore %s\nafter  %s\nformatted:\n%s", before.Root.JSON(""), after.Root.JSON(""), formatted)
			}
			again, _ := format.Source(file, formatted)
			if string(again) != string(formatted) {
				t.Errorf("formatting twice changed the file:\n%s\n---\n%s", formatted, again)
			}
		})
	}
}

// FuzzFormatKeepsMeaning: for any input that evaluates, the formatted
// input evaluates to the same document.
func FuzzFormatKeepsMeaning(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/eval/*.tsk")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	l := testLoader()
	f.Fuzz(func(t *testing.T, src []byte) {
		before, err := l.LoadBytes("f.tsk", src)
		if err != nil {
			return
		}
		formatted, diags := format.Source("f.tsk", src)
		if len(diags) > 0 {
			t.Fatalf("evaluates but does not format: %v", diags)
		}
		after, err := l.LoadBytes("f.tsk", formatted)
		if err != nil {
			t.Fatalf("formatted file does not evaluate: %v\n%q", err, formatted)
		}
		if !tsk.Equal(before.Root, after.Root) {
			t.Fatalf("formatting changed the document:\n%q\n%q", src, formatted)
		}
	})
}
