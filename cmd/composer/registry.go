package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tuskcompose/composer/internal/registry"
)

const registryUsage = `usage: composer registry list [-f FILE] [--admin ADDR]
       composer registry register [-f FILE] [--admin ADDR] --service NAME --port PORT [--address HOST] [--id ID] [--ttl 30s] [--tag TAG ...]
       composer registry deregister [-f FILE] [--admin ADDR] ID

the instances registered at run time with the running composer (Consul's
agent API on its admin address; COMPOSER_ADMIN_TOKEN is sent when set).
A TTL instance registered here must then beat:
PUT /v1/agent/check/pass/service:ID.
`

// tags is a repeatable --tag.
type tags []string

func (t *tags) String() string     { return strings.Join(*t, ",") }
func (t *tags) Set(v string) error { *t = append(*t, v); return nil }

// registryCommand runs composer registry.
func registryCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, registryUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	fs := flag.NewFlagSet("registry "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, registryUsage); fs.PrintDefaults() }
	file := fs.String("f", "platform.tsk", "the platform file")
	admin := fs.String("admin", "", "the running composer's admin address (default: the file's [composer] admin)")
	service := fs.String("service", "", "register: the service's name")
	address := fs.String("address", "127.0.0.1", "register: the instance's host")
	port := fs.Int("port", 0, "register: the instance's port")
	id := fs.String("id", "", "register: the instance's id (default: service-port)")
	ttl := fs.String("ttl", "", `register: a TTL check ("30s"); none: the instance passes at once`)
	var tagList tags
	fs.Var(&tagList, "tag", "register: a tag (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	addr, err := adminAddress(*admin, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := "http://" + addr
	switch args[0] {
	case "list":
		err = registryList(ctx, base, stdout)
	case "register":
		if *service == "" || *port == 0 {
			fmt.Fprintln(stderr, "composer registry register: --service and --port are needed")
			return 2
		}
		if *id == "" {
			*id = fmt.Sprintf("%s-%d", *service, *port)
		}
		reg := map[string]any{"ID": *id, "Name": *service, "Address": *address, "Port": *port, "Tags": []string(tagList)}
		if *ttl != "" {
			reg["Check"] = map[string]string{"TTL": *ttl, "Status": "passing"}
		}
		body, _ := json.Marshal(reg)
		if err = adminCall(ctx, http.MethodPut, base+"/v1/agent/service/register", body, io.Discard); err == nil {
			fmt.Fprintf(stdout, "registered %s (%s at %s:%d)\n", *id, *service, *address, *port)
		}
	case "deregister":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "composer registry deregister: the instance's id is needed")
			return 2
		}
		if err = adminCall(ctx, http.MethodPut, base+"/v1/agent/service/deregister/"+url.PathEscape(fs.Arg(0)), nil, io.Discard); err == nil {
			fmt.Fprintf(stdout, "deregistered %s\n", fs.Arg(0))
		}
	default:
		fmt.Fprintf(stderr, "composer registry: unknown command %q\n\n%s", args[0], registryUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "composer registry %s: %v\n", args[0], strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

// registryList prints every registered instance: its service, id,
// address, state, tags and the age of its last heartbeat.
func registryList(ctx context.Context, base string, stdout io.Writer) error {
	var buf bytes.Buffer
	if err := adminCall(ctx, http.MethodGet, base+"/v1/registry", nil, &buf); err != nil {
		return err
	}
	var all []registry.Instance
	if err := json.Unmarshal(buf.Bytes(), &all); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tID\tADDRESS\tSTATE\tTAGS\tLAST HEARTBEAT")
	for _, in := range all {
		beat := "-"
		for _, c := range in.Checks {
			if c.Kind == "ttl" {
				beat = time.Since(c.Updated).Round(time.Second).String() + " ago"
			}
		}
		tagText := strings.Join(in.Tags, ",")
		if tagText == "" {
			tagText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%s\t%s\t%s\n", in.Service, in.ID, in.Address, in.Port, in.Status(), tagText, beat)
	}
	return tw.Flush()
}
