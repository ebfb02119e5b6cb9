// Command composer runs a platform declared in TuskLang.
//
//	composer [run] [-f FILE]      run the platform; SIGHUP or an edit of the file reloads it
//	composer validate [-f FILE]   every problem of a platform file, as FILE:LINE:COL: message
//
// With no -f, ./platform.tsk. Problems go to standard error, one per line,
// with exit status 1; usage errors exit with status 2. SIGINT and SIGTERM
// drain in-flight requests and stop.
package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise:
// a proxy's live heap is small (a few MiB) and its garbage is per
// request, so collecting at 5x the live heap instead of 2x costs little
// memory and saves the CPU of most collections (12 % more requests a
// second on one core, docs/benchmarks.md).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
