package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/alerts"
	"github.com/tuskcompose/composer/tsk"
)

// alertsCommand runs `composer alerts`: the platform's Prometheus
// alerting rules on stdout (internal/alerts).
func alertsCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	selector := fs.String("selector", "", `label matchers added to every series selector, e.g. 'job="shop"'`)
	if status, ok := parseFlags(fs, args, "alerts [-f FILE] [--selector MATCHERS]", stderr); !ok {
		return status
	}
	model, _, err := composer.LoadResolved(&tsk.Loader{}, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	rules, err := alerts.Rules(model, *selector)
	if err != nil {
		fmt.Fprintf(stderr, "composer alerts: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "# Prometheus alerting rules of %s, written by composer alerts -f %s\n", model.Composer.Name, *file)
	stdout.Write(rules.YAML())
	return 0
}
