package composer

import (
	"strings"
	"testing"

	"github.com/tuskcompose/composer/tsk"
)

func TestPlan(t *testing.T) {
	before, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, "testdata/plan_before.tsk")
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, "testdata/plan_after.tsk")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, a := range Diff(before, after) {
		b.WriteString(a.String() + "\n")
	}
	compareGolden(t, "testdata/plan.golden", b.String())
	if got := Diff(after, after); len(got) != 0 {
		t.Errorf("a platform against itself: %v", got)
	}
}
