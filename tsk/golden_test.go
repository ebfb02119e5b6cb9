package tsk_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/tsk"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testLoader is the Loader of the golden tests: a fixed environment and
// clock, so that outputs do not depend on the machine.
func testLoader() *tsk.Loader {
	env := map[string]string{
		"TSK_TEST_SET":  "from-env",
		"TSK_TEST_PORT": "9000",
	}
	return &tsk.Loader{
		LookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
		Now:       func() time.Time { return time.Date(2026, 11, 5, 14, 7, 9, 0, time.UTC) },
	}
}

// TestGolden evaluates every testdata/eval/*.tsk file. A file whose name
// starts with err_ must fail: its diagnostics are compared with NAME.err.
// Any other file must evaluate: its JSON is compared with NAME.json.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/eval/*.tsk")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".tsk")
		t.Run(name, func(t *testing.T) {
			doc, err := testLoader().Load(file)
			wantErr := strings.HasPrefix(name, "err_")
			var got []byte
			var golden string
			switch {
			case wantErr && err == nil:
				t.Fatalf("expected diagnostics, got none")
			case !wantErr && err != nil:
				t.Fatalf("unexpected diagnostics:\n%v", err)
			case wantErr:
				var diags tsk.Diagnostics
				if !errors.As(err, &diags) {
					t.Fatalf("error is %T, want Diagnostics", err)
				}
				got = []byte(err.Error() + "\n")
				golden = strings.TrimSuffix(file, ".tsk") + ".err"
			default:
				got = append(doc.Root.JSON("  "), '\n')
				golden = strings.TrimSuffix(file, ".tsk") + ".json"
			}
			compareGolden(t, golden, got)
		})
	}
}

func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./tsk -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}
