//go:build unix

package gendoc

import (
	"syscall"
	"time"
)

// CPUTime returns the user+system CPU time the process has used so far,
// all threads together (GC workers and parallel parsing included). ok is
// false where the platform does not say.
func CPUTime() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
