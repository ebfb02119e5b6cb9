package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// ps prints the services of the running platform: each instance of a
// process service with its state, pid, restarts, health and uptime, and
// the instances of the other services with their health.
func ps(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	file := fs.String("f", "platform.tsk", "the platform file")
	admin := fs.String("admin", "", "the running composer's admin address (default: the file's [composer] admin)")
	if status, ok := parseFlags(fs, args, "ps [-f FILE] [--admin ADDR]", stderr); !ok {
		return status
	}
	addr, err := adminAddress(*admin, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var procs []struct {
		Service, State, Error, Health, Uptime, Blocked string
		Instance, Port, PID, Restarts                  int
	}
	var services []struct {
		Name, Kind string
		Instances  []struct{ Address, Health string }
	}
	for _, q := range []struct {
		path string
		into any
	}{{"/v1/processes", &procs}, {"/v1/services", &services}} {
		var buf bytes.Buffer
		if err := adminCall(ctx, http.MethodGet, "http://"+addr+q.path, nil, &buf); err != nil {
			fmt.Fprintf(stderr, "composer ps: %v\n", err)
			return 1
		}
		if err := json.Unmarshal(buf.Bytes(), q.into); err != nil {
			fmt.Fprintf(stderr, "composer ps: %s: %v\n", q.path, err)
			return 1
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tKIND\tINSTANCE\tSTATE\tPID\tRESTARTS\tHEALTH\tUPTIME\tNOTE")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, s := range services {
		switch s.Kind {
		case "process":
			for _, p := range procs {
				if p.Service != s.Name {
					continue
				}
				pid := "-"
				if p.PID > 0 {
					pid = fmt.Sprint(p.PID)
				}
				note := p.Error
				if p.Blocked != "" {
					note = "not started: " + p.Blocked
				}
				fmt.Fprintf(tw, "%s\tprocess\t%d (:%d)\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, p.Instance, p.Port, p.State, pid, p.Restarts,
					p.Health, dash(p.Uptime), strings.ReplaceAll(note, "\t", " "))
			}
		case "http":
			for _, in := range s.Instances {
				fmt.Fprintf(tw, "%s\thttp\t%s\t-\t-\t-\t%s\t-\t\n", s.Name, in.Address, in.Health)
			}
		default:
			fmt.Fprintf(tw, "%s\t%s\t-\trunning\t-\t-\t-\t-\t\n", s.Name, s.Kind)
		}
	}
	tw.Flush()
	return 0
}
