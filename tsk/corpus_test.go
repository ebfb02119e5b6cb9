package tsk_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

// corpusDir holds real .tsk files from the official TuskLang repository
// (see its SOURCES.md). It lives beside the repository, read-only.
const corpusDir = "../../shared/tsk-corpus"

// TestCorpus runs every corpus file. Each one either evaluates (its JSON is
// compared with testdata/corpus/NAME.json) or fails with positioned
// diagnostics (compared with testdata/corpus/NAME.err). Which one, and
// why, is documented in docs/tsk-language.md.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.tsk"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no corpus files in %s", corpusDir)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".tsk")
		t.Run(name, func(t *testing.T) {
			// Positions are reported relative to the corpus directory so
			// that the goldens do not depend on where the checkout is.
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			l := testLoader()
			l.ReadFile = func(p string) ([]byte, error) {
				b, err := os.ReadFile(filepath.Join(corpusDir, p))
				var perr *fs.PathError
				if errors.As(err, &perr) {
					perr.Path = p
				}
				return b, err
			}
			doc, err := l.LoadBytes(filepath.Base(file), src)
			golden := filepath.Join("testdata", "corpus", name)
			if err != nil {
				var diags tsk.Diagnostics
				if !errors.As(err, &diags) {
					t.Fatalf("error is %T, want Diagnostics", err)
				}
				for _, d := range diags {
					if d.Pos.Line == 0 {
						t.Errorf("diagnostic without a position: %v", d)
					}
				}
				compareGolden(t, golden+".err", []byte(err.Error()+"\n"))
				if _, err := os.Stat(golden + ".json"); err == nil {
					t.Errorf("%s.json exists but the file no longer evaluates", golden)
				}
				return
			}
			compareGolden(t, golden+".json", append(doc.Root.JSON("  "), '\n'))
			if _, err := os.Stat(golden + ".err"); err == nil {
				t.Errorf("%s.err exists but the file now evaluates", golden)
			}
		})
	}
}
