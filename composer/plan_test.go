package composer

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

func TestPlan(t *testing.T) {
	before, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, "testdata/plan_before.tsk")
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, "testdata/plan_after.tsk")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range Plan(before, after) {
		b.WriteString(c.String() + "\n")
	}
	golden := "testdata/plan.golden"
	if *update {
		os.WriteFile(golden, []byte(b.String()), 0o644)
	}
	want, _ := os.ReadFile(golden)
	if !bytes.Equal([]byte(b.String()), want) {
		t.Errorf("plan:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := Plan(after, after); len(got) != 0 {
		t.Errorf("a platform against itself: %v", got)
	}
}
