package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/parser"
	"github.com/tuskcompose/composer/tsk"
)

const usage = `usage: composer <command> [flags]

commands:
  validate [-f FILE]   report every problem of a platform file (default ./platform.tsk)

Problems are printed as FILE:LINE:COL: message (exit status 1).
`

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "validate":
		return validate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "composer: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "platform.tsk", "the platform file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: composer validate [-f FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	p, doc, err := composer.Load(&tsk.Loader{}, *file)
	if err != nil {
		var diags parser.Diagnostics
		if errors.As(err, &diags) {
			for _, d := range diags {
				fmt.Fprintln(stderr, d.Error())
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d services, %d event routes (%d files)\n", *file, len(p.Services), len(p.EventRoutes), len(doc.Files))
	return 0
}
