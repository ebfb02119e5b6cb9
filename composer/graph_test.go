package composer

import (
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

func TestGraphGolden(t *testing.T) {
	env := map[string]string{"COMPOSER_LISTEN": "127.0.0.1:8080"}
	p, _, err := Load(&tsk.Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, "../examples/reference/platform.tsk")
	if err != nil {
		t.Fatal(err)
	}
	g := GraphOf(p)
	compareGolden(t, "testdata/graph.mmd", g.Mermaid())
	compareGolden(t, "testdata/graph.dot", g.DOT())
}
