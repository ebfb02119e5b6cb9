package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/internal/runner"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/logging"
	"github.com/tuskcompose/composer/tsk"
)

const usage = `usage: composer [run] [-f FILE]    run the platform (default ./platform.tsk)
       composer validate [-f FILE] [--format text|json]
                                     report every problem of a platform file
       composer plan [-f FILE] [--admin ADDR] [--format text|json]
                                     what reloading FILE would do in the running platform
       composer ps [-f FILE] [--admin ADDR]
                                     the services of the running platform: state, pid, restarts, health, uptime
       composer registry list|register|deregister ...
                                     the instances registered at run time (composer registry -h)
       composer graph [-f FILE] [--format mermaid|dot]
                                     the platform drawn: services, routes, calls, dependencies, event routes
       composer schema               the JSON Schema of the platform file, as tsk json prints it
       composer alerts [-f FILE] [--selector MATCHERS]
                                     the platform's Prometheus alerting rules
       composer events publish|tail|replay|rebuild ...
                                     events at a terminal (composer events -h)
       composer version              the version and commit (also --version)
       composer completion bash|zsh|fish
                                     a shell completion script

Problems are printed as FILE:LINE:COL: message (exit status 1).
`

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-f") {
		return runPlatform(args, stderr)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version", "-version":
		return version(stdout)
	case "completion":
		return completion(args[1:], stdout, stderr)
	case "run":
		return runPlatform(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "plan":
		return plan(args[1:], stdout, stderr)
	case "events":
		return eventsCommand(args[1:], stdout, stderr)
	case "ps":
		return ps(args[1:], stdout, stderr)
	case "graph":
		return graph(args[1:], stdout, stderr)
	case "registry":
		return registryCommand(args[1:], stdout, stderr)
	case "alerts":
		return alertsCommand(args[1:], stdout, stderr)
	case "schema":
		// The JSON Schema of the platform file (docs/platform.schema.json).
		stdout.Write(composer.JSONSchema())
		return 0
	}
	fmt.Fprintf(stderr, "composer: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// runPlatform runs the platform until SIGINT or SIGTERM; SIGHUP reloads.
func runPlatform(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	if status, ok := parseFlags(fs, args, "[run] [-f FILE]", stderr); !ok {
		return status
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("COMPOSER_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	log := logging.New(stderr, os.Getenv("COMPOSER_LOG_FORMAT"), level)
	// The signals are caught before the platform starts: a SIGTERM right
	// after "platform running" drains it like any other.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	r, err := runner.New(*file, &tsk.Loader{}, log)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	r.Start()
	go r.Watch(ctx, 5*time.Millisecond)
	for {
		select {
		case <-hup:
			r.Reload()
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("stopping: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Stop(sctx); err != nil {
		log.Error("stop", "err", err)
		return 1
	}
	return 0
}

func printErr(stderr io.Writer, err error) {
	for _, d := range tsk.AsDiagnostics(err, "") {
		fmt.Fprintln(stderr, d.Error())
	}
}

// validate reports every error and warning of a platform file; it exits
// with 1 only when there is an error.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	format := fs.String("format", "text", "text, or json: a list of {file, line, column, end_line, end_column, severity, message}")
	if status, ok := parseFlags(fs, args, "validate [-f FILE] [--format text|json]", stderr); !ok {
		return status
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "composer validate: --format is text or json, not %q\n", *format)
		return 2
	}
	r, doc, err := composer.LoadResolved(&tsk.Loader{}, *file)
	diags := tsk.AsDiagnostics(err, *file)
	if err == nil {
		diags = composer.Warnings(r)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(diags.JSON())
	} else {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.Error())
		}
	}
	if diags.HasErrors() {
		return 1
	}
	if *format == "text" {
		fmt.Fprintf(stdout, "%s: %d services, %d event routes (%d files)\n", *file, len(r.Services), len(r.EventRoutes), len(doc.Files))
	}
	return 0
}

// plan prints what a reload to the file would do in the platform
// running at the admin address (by default the file's [composer] admin):
// the actions of composer.Diff, the same a reload carries out.
func plan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	admin := fs.String("admin", "", "the running composer's admin address (default: the file's [composer] admin)")
	format := fs.String("format", "text", "text, or json: a list of {action, kind, name, reason}")
	if status, ok := parseFlags(fs, args, "plan [-f FILE] [--admin ADDR] [--format text|json]", stderr); !ok {
		return status
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "composer plan: --format is text or json, not %q\n", *format)
		return 2
	}
	next, _, err := composer.LoadResolved(&tsk.Loader{}, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	addr := *admin
	if addr == "" {
		addr = next.Composer.Admin
	}
	client := &http.Client{Timeout: 5 * time.Second}
	req, err := adminRequest(context.Background(), http.MethodGet, "http://"+addr+"/v1/platform", nil)
	if err != nil {
		fmt.Fprintf(stderr, "composer plan: %v\n", err)
		return 1
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "composer plan: no running composer at %s: %v\n", addr, err)
		return 1
	}
	defer resp.Body.Close()
	var cur composer.Resolved
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&cur) != nil {
		fmt.Fprintf(stderr, "composer plan: %s did not answer with its platform (%s)\n", addr, resp.Status)
		return 1
	}
	cur.Compile()
	changes := composer.Diff(&cur, next)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(changes)
		return 0
	}
	if len(changes) == 0 {
		fmt.Fprintln(stdout, "no changes")
		return 0
	}
	for _, c := range changes {
		fmt.Fprintln(stdout, c.String())
	}
	return 0
}

// parseFlags parses a command's flags; it allows no positional argument.
// When it returns false, the command ends with the status (0 after -h, 2
// after a usage error).
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: composer "+synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2, false
	}
	return 0, true
}
