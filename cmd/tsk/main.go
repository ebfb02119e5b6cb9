// Command tsk reads TuskLang files: it prints them as JSON, looks values
// up, checks them and formats them.
//
//	tsk json FILE          the evaluated document as JSON (FILE "-" is standard input)
//	tsk get FILE key.path  one value: a scalar plainly, a collection as JSON
//	tsk check FILE...      diagnostics only; exit status 0 when every file is valid
//	tsk fmt [-w|-l] FILE...  canonical formatting, comments kept
//
// Problems are printed on standard error as FILE:LINE:COL: message, and the
// exit status is 1. Usage errors exit with status 2.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
