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

	"github.com/tuskcompose/composer/internal/gctune"
)

// The garbage collector's target unless GOGC says otherwise: 400 % of the
// live heap, and never below gcFloor. A proxy's live heap is small (a few
// MiB) and its garbage is per request, so collecting at 5x the live heap
// instead of 2x costs little memory and saves the CPU of most collections
// (12 % more requests a second on one core); letting a heap of a few MiB
// grow to 64 MiB before it is collected takes another 9 % off a
// request's instructions, for about 45 MiB more resident under load
// (docs/benchmarks.md). A big platform's heap, above the floor, keeps
// 400 %. GOMEMLIMIT bounds the heap whatever these say.
const (
	gcPercent = 400
	gcFloor   = 64 << 20
)

func main() {
	if os.Getenv("GOGC") == "" {
		gctune.Start(gcFloor, gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
