package gendoc

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/tuskcompose/composer/tsk"
)

// decodeAll decodes the three forms of d into plain, normalised Go values.
func decodeAll(t *testing.T, d Doc) (tv, yv, mv any) {
	t.Helper()
	doc, err := (&tsk.Loader{}).LoadBytes("platform.tsk", d.TSK)
	if err != nil {
		t.Fatalf("tsk: %v\n%s", err, d.TSK)
	}
	var y, m map[string]any
	if err := yaml.Unmarshal(d.YAML, &y); err != nil {
		t.Fatalf("yaml: %v\n%s", err, d.YAML)
	}
	if _, err := toml.Decode(string(d.TOML), &m); err != nil {
		t.Fatalf("toml: %v\n%s", err, d.TOML)
	}
	return normalize(doc.Root.Interface()), normalize(y), normalize(m)
}

func TestFormatsEqual(t *testing.T) {
	for _, n := range []int{0, 1, 25} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := Generate(n)
			tv, yv, mv := decodeAll(t, d)
			if !reflect.DeepEqual(tv, yv) {
				t.Errorf("tsk and yaml differ:\ntsk:  %v\nyaml: %v", tv, yv)
			}
			if !reflect.DeepEqual(tv, mv) {
				t.Errorf("tsk and toml differ:\ntsk:  %v\ntoml: %v", tv, mv)
			}
			services := tv.(map[string]any)["services"].(map[string]any)
			if len(services) != n {
				t.Errorf("got %d services, want %d", len(services), n)
			}
		})
	}
}

// TestServiceValues pins the values of one service, so that the three
// formats cannot agree on something other than the documented shape.
func TestServiceValues(t *testing.T) {
	tv, _, _ := decodeAll(t, Generate(124))
	got := tv.(map[string]any)["services"].(map[string]any)["svc123"]
	want := map[string]any{
		"kind":      "http",
		"instances": []any{"http://127.0.0.1:10123", "http://127.0.0.1:30123"},
		"routes":    []any{"/svc123", "/svc123/:id"},
		"timeout":   "10s",
		"retries":   int64(3),
		"weight":    1.0, // float64, not an integer
		"enabled":   true,
		"health": map[string]any{
			"interval":   "5s",
			"path":       "/health",
			"thresholds": map[string]any{"healthy": int64(3), "unhealthy": int64(3)},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("svc123:\ngot  %#v\nwant %#v", got, want)
	}
}

func TestServicesForSize(t *testing.T) {
	for _, target := range []int{10 << 10, 1 << 20} {
		n := ServicesForSize(target)
		size := len(Generate(n).TSK)
		next := len(Generate(n + 1).TSK)
		if size > target || next <= target {
			t.Errorf("ServicesForSize(%d) = %d: sizes %d (n) and %d (n+1)", target, n, size, next)
		}
	}
	if n := ServicesForSize(0); n != 1 {
		t.Errorf("ServicesForSize(0) = %d, want 1", n)
	}
}

// normalize makes decoded values comparable: every integer becomes
// int64, every map map[string]any and every list []any.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	case float32:
		return float64(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}
