package composer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tuskcompose/composer/tsk"
)

// TestJSONSchema: the schema (checked by santhosh-tekuri/jsonschema)
// accepts every example platform as `tsk json` prints it, and refuses a
// misspelt key and a wrong type; the committed copy is current.
func TestJSONSchema(t *testing.T) {
	const committed = "../docs/platform.schema.json"
	if *update {
		os.WriteFile(committed, JSONSchema(), 0o644)
	}
	if b, _ := os.ReadFile(committed); !bytes.Equal(b, JSONSchema()) {
		t.Errorf("%s is stale: go test ./composer -run JSONSchema -update", committed)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("platform.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("platform.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	asJSON := func(file string) any {
		d, err := (&tsk.Loader{LookupEnv: func(string) (string, bool) { return "", false }}).Load(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		b, _ := json.Marshal(d.Root.Interface())
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		return v
	}
	files, _ := filepath.Glob("../examples/*/platform.tsk")
	for _, f := range append(files, "../platform.tsk") {
		if err := sch.Validate(asJSON(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for src, want := range map[string]string{
		"[composer]\nlisten: \"127.0.0.1:1\"\nlistne: \"x\"\n":      "listne",
		"[services]\nusers { kind: \"builtin\", retries: \"x\" }\n": "retries",
		"[services]\nusers { kind: \"nope\" }\n":                    "kind",
		"[health_checks]\ninterval: \"5 minutes\"\n":                "interval",
	} {
		file := filepath.Join(t.TempDir(), "p.tsk")
		os.WriteFile(file, []byte(src), 0o644)
		if err := sch.Validate(asJSON(file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error about %s", src, err, want)
		}
	}
}
