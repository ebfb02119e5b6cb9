// Package gctune gives the garbage collector a floor: it collects when the
// heap has grown to Percent of the live heap, as GOGC says, but never
// before the heap holds Floor bytes.
//
// A proxy's live heap is small (a few MiB: the platform, the routes, the
// connections) and nearly everything it allocates is one request's
// garbage, so a target proportional to the live heap alone collects every
// few thousand requests, each time marking the same live heap again. Go's
// own minimum (4 MiB times GOGC/100) scales with the percent, which
// raises the target of a big platform's heap too. Here the percent stays
// what it is for a big heap, and a small heap is allowed to grow to the
// floor: after each collection, the percent is set so that the next
// target is the larger of the two. It is the pattern of a GC tuner that
// sets GOGC from the live heap after each cycle; a memory limit
// (GOMEMLIMIT) still bounds the heap, as the runtime applies it whatever
// the percent.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// heapMinimum is the runtime's least target at 100 %: it targets at least
// heapMinimum times percent/100 whatever the live heap (the GC guide's
// "minimum total heap size"), so a percent above floor/heapMinimum*100
// would put the target above the floor.
const heapMinimum = 4 << 20

// PercentFor is the collector's percent for a live heap of live bytes:
// percent, or more where that makes the next target (live plus percent of
// it, and at least the runtime's minimum for that percent) less than
// floor bytes; then the target is about floor. A live heap of 0 counts
// as 1 MiB (the runtime has not measured one yet).
func PercentFor(live, floor uint64, percent int) int {
	if live == 0 {
		live = 1 << 20
	}
	if live >= floor {
		return percent
	}
	p := min((floor-live)*100/live, floor*100/heapMinimum)
	return max(percent, int(p))
}

var started sync.Once

// Start sets the collector's percent now and after every collection from
// then on (PercentFor with floor and percent). Only the first call starts
// it; the program's main calls it once, before it starts serving, and not
// at all when GOGC is set (the user's word is kept).
func Start(floor uint64, percent int) {
	started.Do(func() { start(floor, percent) })
}

// start makes a tuner, adjusts the percent and arms the next adjustment.
// The tests stop what it returns; the program never does.
func start(floor uint64, percent int) *tuner {
	t := &tuner{floor: floor, percent: percent, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.adjust()
	t.arm()
	return t
}

// tuner holds what Start was given; adjust runs in the runtime's cleanup
// goroutine, one call at a time (each arms the next).
type tuner struct {
	floor   uint64
	percent int
	sample  []metrics.Sample
	stopped atomic.Bool // no adjustment after the next cycle's, none armed
}

// sentinel is what each cycle's cleanup hangs on: 32 bytes, not an
// allocation of the tiny allocator, whose blocks may outlive their objects.
type sentinel [32]byte

// arm attaches the next adjustment to a new object that nothing keeps:
// the collection that finds it unreachable runs it.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

// adjust reads the live heap the last collection marked and sets the
// percent for the next target.
func (t *tuner) adjust() {
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	debug.SetGCPercent(PercentFor(live, t.floor, t.percent))
}
