package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tuskcompose/composer/internal/lsp"
	"github.com/tuskcompose/composer/parser/format"
	"github.com/tuskcompose/composer/tsk"
)

const usage = `usage: tsk <command> [arguments]

commands:
  json FILE            print the evaluated document as JSON (FILE "-" reads standard input)
  get FILE key.path    print one value: a scalar as text, a collection as JSON
  check FILE...        report problems; exit status 0 when every file is valid
  fmt [-w|-l] FILE...  format canonically, keeping comments
  lsp                  a language server on standard input and output, for editors

Problems are printed as FILE:LINE:COL: message (exit status 1).
Run 'tsk <command> -h' for a command's flags.
`

// exit statuses
const (
	exitOK      = 0
	exitProblem = 1 // diagnostics, missing key, unreadable file
	exitUsage   = 2
)

// cli carries the standard streams of one run.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "json":
		return c.json(args[1:])
	case "get":
		return c.get(args[1:])
	case "check":
		return c.check(args[1:])
	case "fmt":
		return c.fmt(args[1:])
	case "lsp":
		// The Language Server Protocol on standard input and output
		// (internal/lsp); it ends when the editor exits.
		if err := lsp.New().ServeStdio(context.Background()); err != nil {
			fmt.Fprintf(stderr, "tsk lsp: %v\n", err)
			return exitProblem
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "tsk: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// flags parses a subcommand's flags. It returns the positional arguments,
// or an exit status when the command line was -h or wrong.
func (c *cli) flags(fs *flag.FlagSet, args []string, synopsis string, nargs func(int) bool) ([]string, int, bool) {
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tsk %s\n", synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK, false
		}
		return nil, exitUsage, false
	}
	if !nargs(fs.NArg()) {
		fs.Usage()
		return nil, exitUsage, false
	}
	return fs.Args(), 0, true
}

// load reads and evaluates one file ("-" is standard input), printing
// its diagnostics.
func (c *cli) load(name string) (*tsk.Document, bool) {
	var doc *tsk.Document
	var err error
	if name == "-" {
		src, rerr := io.ReadAll(c.stdin)
		if rerr != nil {
			fmt.Fprintf(c.stderr, "tsk: reading standard input: %v\n", rerr)
			return nil, false
		}
		doc, err = (&tsk.Loader{}).LoadBytes("<stdin>", src)
	} else {
		doc, err = tsk.Load(name)
	}
	if err != nil {
		c.report(err)
		return doc, false
	}
	return doc, true
}

// report prints an error: diagnostics one per line.
func (c *cli) report(err error) {
	for _, d := range tsk.AsDiagnostics(err, "") {
		fmt.Fprintln(c.stderr, d.Error())
	}
}

func (c *cli) json(args []string) int {
	fs := flag.NewFlagSet("json", flag.ContinueOnError)
	compact := fs.Bool("c", false, "compact output (no indentation)")
	pos, status, ok := c.flags(fs, args, "json [-c] FILE", func(n int) bool { return n == 1 })
	if !ok {
		return status
	}
	doc, ok := c.load(pos[0])
	if !ok {
		return exitProblem
	}
	indent := "  "
	if *compact {
		indent = ""
	}
	c.stdout.Write(append(doc.Root.JSON(indent), '\n'))
	return exitOK
}

func (c *cli) get(args []string) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	pos, status, ok := c.flags(fs, args, "get FILE key.path", func(n int) bool { return n == 2 })
	if !ok {
		return status
	}
	doc, ok := c.load(pos[0])
	if !ok {
		return exitProblem
	}
	v := doc.Lookup(pos[1])
	if v == nil {
		msg := fmt.Sprintf("tsk get: %s has no key %q", pos[0], pos[1])
		fmt.Fprintln(c.stderr, msg)
		return exitProblem
	}
	switch v.Kind {
	case tsk.String:
		fmt.Fprintln(c.stdout, v.Str)
	case tsk.Int, tsk.Float, tsk.Bool:
		s, _ := v.Text()
		fmt.Fprintln(c.stdout, s)
	case tsk.Null:
		fmt.Fprintln(c.stdout, "null")
	default:
		c.stdout.Write(append(v.JSON("  "), '\n'))
	}
	return exitOK
}

func (c *cli) check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	format := fs.String("format", "text", "text (FILE:LINE:COL: message on standard error), or json: a list of {file, line, column, end_line, end_column, severity, message} on standard output")
	pos, status, ok := c.flags(fs, args, "check [--format text|json] FILE...", func(n int) bool { return n >= 1 })
	if !ok {
		return status
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(c.stderr, "tsk check: --format is text or json, not %q\n", *format)
		return exitUsage
	}
	if *format == "text" {
		status = exitOK
		for _, name := range pos {
			if _, ok := c.load(name); !ok {
				status = exitProblem
			}
		}
		return status
	}
	var all tsk.Diagnostics
	for _, name := range pos {
		var err error
		if name == "-" {
			src, rerr := io.ReadAll(c.stdin)
			if rerr != nil {
				fmt.Fprintf(c.stderr, "tsk: reading standard input: %v\n", rerr)
				return exitProblem
			}
			_, err = (&tsk.Loader{}).LoadBytes("<stdin>", src)
		} else {
			_, err = tsk.Load(name)
		}
		all = append(all, tsk.AsDiagnostics(err, name)...)
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(all.JSON())
	if all.HasErrors() {
		return exitProblem
	}
	return exitOK
}

func (c *cli) fmt(args []string) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	write := fs.Bool("w", false, "write the result to the file instead of standard output")
	list := fs.Bool("l", false, "list the files whose formatting differs")
	pos, status, ok := c.flags(fs, args, "fmt [-w|-l] FILE...", func(n int) bool { return n >= 1 })
	if !ok {
		return status
	}
	status = exitOK
	for _, name := range pos {
		var src []byte
		var err error
		if name == "-" {
			src, err = io.ReadAll(c.stdin)
		} else {
			src, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "tsk: %v\n", err)
			status = exitProblem
			continue
		}
		display := name
		if name == "-" {
			display = "<stdin>"
		}
		out, diags := format.Source(display, src)
		if len(diags) > 0 {
			c.report(diags)
			status = exitProblem
			continue
		}
		changed := !bytes.Equal(src, out)
		switch {
		case *list:
			if changed {
				fmt.Fprintln(c.stdout, display)
			}
		case *write && name != "-":
			if changed {
				if err := writeKeepingMode(name, out); err != nil {
					fmt.Fprintf(c.stderr, "tsk: %v\n", err)
					status = exitProblem
				}
			}
		default:
			c.stdout.Write(out)
		}
	}
	return status
}

// writeKeepingMode replaces a file's contents, keeping its permissions.
func writeKeepingMode(name string, data []byte) error {
	info, err := os.Stat(name)
	if err != nil {
		return err
	}
	return os.WriteFile(name, data, info.Mode().Perm())
}
