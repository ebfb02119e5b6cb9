//go:build !unix

package gendoc

import "time"

// CPUTime returns the user+system CPU time the process has used so far,
// all threads together (GC workers and parallel parsing included). ok is
// false where the platform does not say, as here.
func CPUTime() (d time.Duration, ok bool) { return 0, false }
