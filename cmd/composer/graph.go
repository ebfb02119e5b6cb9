package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

// graph prints the platform of a file as a Mermaid flowchart or a DOT
// graph: services, routes, calls with their breakers, dependencies, event
// routes from topics to their targets.
func graph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	format := fs.String("format", "mermaid", "mermaid or dot")
	if status, ok := parseFlags(fs, args, "graph [-f FILE] [--format mermaid|dot]", stderr); !ok {
		return status
	}
	p, _, err := composer.Load(&tsk.Loader{}, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	g := composer.GraphOf(p)
	switch *format {
	case "mermaid":
		fmt.Fprint(stdout, g.Mermaid())
	case "dot":
		fmt.Fprint(stdout, g.DOT())
	default:
		fmt.Fprintf(stderr, "composer graph: --format %q is not mermaid or dot\n", *format)
		return 2
	}
	return 0
}
