package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name          string
		live, floor   uint64
		percent, want int
	}{
		{"a small heap: the runtime's minimum at the percent is the floor", 3 * mib, 64 * mib, 400, 1600},
		{"a heap that reaches the floor below that minimum", 8 * mib, 64 * mib, 400, 700},
		{"a heap whose target passes the floor keeps the percent", 16 * mib, 64 * mib, 400, 400},
		{"a heap above the floor keeps the percent", 200 * mib, 64 * mib, 400, 400},
		{"a floor of nothing keeps the percent", 4 * mib, 0, 100, 100},
		{"no live heap measured counts as 1 MiB", 0, 64 * mib, 400, 1600},
		{"a heap of a few bytes", 3, 64 * mib, 400, 1600},
	} {
		if got := PercentFor(c.live, c.floor, c.percent); got != c.want {
			t.Errorf("%s: PercentFor(%d, %d, %d) = %d, want %d", c.name, c.live, c.floor, c.percent, got, c.want)
		}
	}
}

// gcPercent reads the collector's percent from the runtime.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestEachCycleSetsThePercent: after a collection, the percent is the
// tuner's again, whatever it was set to in between; a stopped tuner no
// longer sets it.
func TestEachCycleSetsThePercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := start(1<<40, 400) // (a floor no test heap reaches: far above 400)
	defer tu.stopped.Store(true)
	want := gcPercent()
	if want <= 400 {
		t.Fatalf("percent after start = %d, want above 400 for a heap below the floor", want)
	}
	for round := range 3 {
		debug.SetGCPercent(123)
		if !collectUntil(func() bool { return gcPercent() == want }) {
			t.Fatalf("round %d: percent after collections = %d, want %d again", round, gcPercent(), want)
		}
	}
	tu.stopped.Store(true)
	runtime.GC() // (the cleanup armed last runs, sees the stop, arms none)
	time.Sleep(10 * time.Millisecond)
	debug.SetGCPercent(123)
	for range 5 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if got := gcPercent(); got != 123 {
		t.Fatalf("percent after a stopped tuner's collections = %d, want 123", got)
	}
}

// TestAHeapAboveTheFloorKeepsThePercent: a floor below the live heap
// leaves the percent as given.
func TestAHeapAboveTheFloorKeepsThePercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := start(1024, 250)
	defer tu.stopped.Store(true)
	if !collectUntil(func() bool { return gcPercent() == 250 }) {
		t.Fatalf("percent = %d, want 250", gcPercent())
	}
}

// collectUntil collects and waits for the cleanups it runs, at most 5 s,
// until ok.
func collectUntil(ok func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		if ok() {
			return true
		}
	}
	return false
}
