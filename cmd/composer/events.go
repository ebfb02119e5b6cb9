package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/internal/runner"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/tsk"
)

const eventsUsage = `usage: composer events publish [-f FILE] [--subject S] TOPIC JSON
       composer events tail [-f FILE] [--from-beginning] TOPIC
       composer events replay [-f FILE] --route NAME [--from TIME]
       composer events rebuild [-f FILE] [--service NAME]

On Kafka (bus: "kafka"), publish and tail talk to the brokers of FILE;
on the embedded bus, to the running composer's admin API. replay always
asks the running composer (--admin ADDR, default FILE's [composer] admin).
rebuild makes the built-in services' entities (users, orders) again from
the event store of FILE's data_dir, with the composer stopped.
`

// eventsCommand runs `composer events ...`.
func eventsCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, eventsUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, eventsUsage)
		return 0
	}
	fs := flag.NewFlagSet("events "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, eventsUsage); fs.PrintDefaults() }
	file := fs.String("f", "platform.tsk", "the platform file")
	admin := fs.String("admin", "", "the running composer's admin address (default: the file's [composer] admin)")
	subject := fs.String("subject", "", "publish: the event's subject (its aggregate id)")
	fromBeginning := fs.Bool("from-beginning", false, "tail: print the events the topic has before the new ones")
	route := fs.String("route", "", "replay: the event route")
	service := fs.String("service", "", "rebuild: only this built-in service")
	from := fs.String("from", "", "replay: the time from which events are replayed (RFC 3339; default: all)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if args[0] == "rebuild" && len(pos) == 0 { // it loads the file itself
		if err := rebuildEntities(*file, *service, stdout, stderr); err != nil {
			printErr(stderr, fmt.Errorf("composer events rebuild: %w", err))
			return 1
		}
		return 0
	}
	p, _, err := composer.Load(&tsk.Loader{}, *file)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	if *admin == "" {
		*admin = p.Composer.Admin
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case args[0] == "publish" && len(pos) == 2:
		err = publishEvent(ctx, p, *admin, pos[0], *subject, pos[1], stdout)
	case args[0] == "tail" && len(pos) == 1:
		err = tailEvents(ctx, p, *admin, pos[0], *fromBeginning, stdout)
	case args[0] == "replay" && len(pos) == 0 && *route != "":
		err = replayEvents(ctx, *admin, *route, *from, stdout)
	default:
		fs.Usage()
		return 2
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "composer events %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func kafkaBus(p *composer.Platform) (*kafkabus.Bus, error) {
	cfg, err := runner.KafkaConfig(p, nil)
	if err != nil {
		return nil, err
	}
	cfg.ClientID += "-cli"
	return kafkabus.New(cfg), nil
}

func publishEvent(ctx context.Context, p *composer.Platform, admin, topic, subject, data string, stdout io.Writer) error {
	if !json.Valid([]byte(data)) {
		return fmt.Errorf("the event's data is not JSON: %s", data)
	}
	if p.Events.Bus != "kafka" {
		q := url.Values{"type": {topic}, "subject": {subject}}
		return adminCall(ctx, http.MethodPost, "http://"+admin+"/v1/events?"+q.Encode(), []byte(data), stdout)
	}
	bus, err := kafkaBus(p)
	if err != nil {
		return err
	}
	defer bus.Close()
	e := events.Event{ID: store.NewID(), Type: topic, Source: "/composer/cli", Subject: subject, Time: time.Now().UTC(), Data: json.RawMessage(data)}
	if err := bus.Publish(ctx, e); err != nil {
		return err
	}
	return printJSON(stdout, events.ToCloudEvent(e))
}

// tailEvents prints the events of a topic as they come, one CloudEvent
// JSON object per line, until interrupted.
func tailEvents(ctx context.Context, p *composer.Platform, admin, topic string, fromBeginning bool, stdout io.Writer) error {
	if p.Events.Bus == "kafka" {
		bus, err := kafkaBus(p)
		if err != nil {
			return err
		}
		defer bus.Close()
		return bus.Tail(ctx, topic, fromBeginning, func(e events.Event, extra map[string]string) error {
			line := map[string]any{}
			b, _ := json.Marshal(events.ToCloudEvent(e))
			json.Unmarshal(b, &line)
			for k, v := range extra {
				line[k] = v
			}
			return printLine(stdout, line)
		})
	}
	// The embedded bus: poll the event store.
	var after uint64
	if !fromBeginning {
		last, err := storedEvents(ctx, admin, topic, 0)
		if err != nil {
			return err
		}
		for _, e := range last {
			after = max(after, e.Seq)
		}
	}
	for {
		evs, err := storedEvents(ctx, admin, topic, after)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := printLine(stdout, events.ToCloudEvent(e.Event)); err != nil {
				return err
			}
			after = max(after, e.Seq)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

type storedEvent struct {
	Seq uint64 `json:"seq"`
	store.Event
}

func storedEvents(ctx context.Context, admin, topic string, after uint64) ([]storedEvent, error) {
	var buf bytes.Buffer
	q := url.Values{"type": {topic}, "after": {fmt.Sprint(after)}}
	if err := adminCall(ctx, http.MethodGet, "http://"+admin+"/v1/events?"+q.Encode(), nil, &buf); err != nil {
		return nil, err
	}
	var evs []storedEvent
	return evs, json.Unmarshal(buf.Bytes(), &evs)
}

func replayEvents(ctx context.Context, admin, route, from string, stdout io.Writer) error {
	q := url.Values{"route": {route}}
	if from != "" {
		if _, err := time.Parse(time.RFC3339, from); err != nil {
			return fmt.Errorf("--from %q: an RFC 3339 time such as 2026-11-25T10:00:00Z", from)
		}
		q.Set("from", from)
	}
	return adminCall(ctx, http.MethodPost, "http://"+admin+"/v1/events/replay?"+q.Encode(), nil, stdout)
}

// adminAddress is the running composer's admin address: the one given
// (--admin), else the platform file's [composer] admin.
func adminAddress(given, file string) (string, error) {
	if given != "" {
		return given, nil
	}
	p, _, err := composer.Load(&tsk.Loader{}, file)
	if err != nil {
		return "", err
	}
	return p.Composer.Admin, nil
}

// adminRequest is a request to the running composer's admin API, with
// the admin token of COMPOSER_ADMIN_TOKEN when it is set.
func adminRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if token := os.Getenv("COMPOSER_ADMIN_TOKEN"); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// adminCall makes a call to the running composer's admin API and copies a
// 2xx answer's body to out.
func adminCall(ctx context.Context, method, u string, body []byte, out io.Writer) error {
	req, err := adminRequest(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no running composer answers at %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		b, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s answered %s", req.URL.Host, resp.Status)
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
