package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/parser"
	"github.com/tuskcompose/composer/tsk"
)

const usage = `usage: composer [run] [-f FILE]    run the platform (default ./platform.tsk)
       composer validate [-f FILE]   report every problem of a platform file

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
	case "run":
		return runPlatform(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "composer: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// runPlatform runs the platform until SIGINT or SIGTERM; SIGHUP reloads.
func runPlatform(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "platform.tsk", "the platform file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	r, err := composer.NewRunner(*file, &tsk.Loader{}, log)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	r.Start()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go r.Watch(ctx, 50*time.Millisecond)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
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
	var diags parser.Diagnostics
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.Error())
		}
		return
	}
	fmt.Fprintln(stderr, err)
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
		printErr(stderr, err)
		return 1
	}
	for _, w := range composer.Warnings(doc) {
		fmt.Fprintln(stderr, w.Error())
	}
	fmt.Fprintf(stdout, "%s: %d services, %d event routes (%d files)\n", *file, len(p.Services), len(p.EventRoutes), len(doc.Files))
	return 0
}
