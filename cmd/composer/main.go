// Command composer runs a platform declared in TuskLang.
//
//	composer [run] [-f FILE]      run the platform; SIGHUP or an edit of the file reloads it
//	composer validate [-f FILE]   every problem of a platform file, as FILE:LINE:COL: message
//
// With no -f, ./platform.tsk. Problems go to standard error, one per line,
// with exit status 1; usage errors exit with status 2. SIGINT and SIGTERM
// drain in-flight requests and stop.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
