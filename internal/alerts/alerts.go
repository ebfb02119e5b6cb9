// Package alerts writes the Prometheus alerting rules of a platform:
// what an operator wants to be told about the composer's metrics, with
// each service's, breaker's and route's own thresholds taken from the
// platform file (a breaker is late to close relative to its own
// recovery_timeout, an instance unhealthy relative to its own health
// check interval). `composer alerts` prints them.
package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuskcompose/composer/composer"
)

// Kind is one alert the composer writes, as docs/platform.md lists it.
type Kind struct {
	Name     string
	Severity string // warning | critical
	// Fires says when, in words; Per is what one rule is written for.
	Fires, Per string
}

// Kinds are the alerts, in the order the rules are written.
var Kinds = []Kind{
	{"ComposerBreakerNotClosing", "critical", "a circuit breaker has not been closed for 3× its recovery_timeout (at least 1m): its target keeps failing its probes", "breaker"},
	{"ComposerInstanceUnhealthy", "warning", "an instance has failed its health checks for 3× (interval × retries) (at least 1m)", "service with health checks"},
	{"ComposerInstanceEjected", "warning", "outlier detection has kept an instance out for longer than max_ejection_time: it is ejected again and again", "http or process service"},
	{"ComposerProcessRestartLoop", "critical", "a process service's instance restarted 3 times or more in 10m", "process service"},
	{"ComposerDeadLetters", "warning", "an event route dead-lettered events in the last 10m: its dead-letter topic is growing", "event route"},
	{"ComposerOutboxNotDraining", "critical", "the outbox has not been empty for 5m: the bus does not take the events", "platform"},
	{"ComposerConsumerLagGrowing", "warning", "a Kafka consumer group's lag has been above zero and growing for 10m", "platform on Kafka"},
	{"ComposerReloadFailing", "warning", "the last reload of the platform file failed for 1m: the file is not what runs", "platform"},
}

// Markdown is the table of Kinds that docs/platform.md shows (a test
// keeps the page and this list the same).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Alert | Severity | Fires when | One rule per |\n|---|---|---|---|\n")
	for _, k := range Kinds {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, k.Severity, k.Fires, k.Per)
	}
	return b.String()
}

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is a rule group.
type Group struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is an alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ErrNoMetrics is a platform that serves no metrics: no alert could fire.
var ErrNoMetrics = errors.New("[microservices_configuration] enable_metrics is false: the composer serves no metrics, so no alert can fire")

// Rules are the alerting rules of model. selector, when not empty, is
// added to every series selector ("job=\"shop\""): how rules tell this
// platform's composer apart in a Prometheus that scrapes several.
func Rules(model *composer.Resolved, selector string) (File, error) {
	if !model.Composer.Metrics {
		return File{}, ErrNoMetrics
	}
	name := model.Composer.Name
	w := writer{selector: selector, platform: name}
	for _, target := range slices.Sorted(maps.Keys(model.Breakers)) {
		window := minimum(3 * model.Breakers[target].RecoveryTimeout)
		w.add("ComposerBreakerNotClosing", fmt.Sprintf("max_over_time(%s[%s]) == 0", w.sel("composer_breaker_state", "target", target, "state", "closed"), duration(window)), "",
			map[string]string{"target": target},
			fmt.Sprintf("The breaker of %s has not closed for %s", target, duration(window)),
			fmt.Sprintf("Calls to %s are refused or probing: it has failed every probe for 3× its recovery_timeout of %s.", target, duration(model.Breakers[target].RecoveryTimeout)))
	}
	for _, svc := range slices.Sorted(maps.Keys(model.Services)) {
		s := model.Services[svc]
		if s.Health != nil {
			wait := minimum(3 * s.Health.Interval * time.Duration(max(s.Health.Retries, 1)))
			w.add("ComposerInstanceUnhealthy", w.sel("composer_instance_healthy", "service", svc)+" == 0", duration(wait),
				map[string]string{"service": svc},
				fmt.Sprintf("An instance of %s is unhealthy", svc),
				fmt.Sprintf("{{ $labels.instance }} of %s has failed its health checks for %s.", svc, duration(wait)))
		}
		if s.Kind == "http" || s.Kind == "process" {
			wait := minimum(s.Outlier.MaxEjectionTime)
			w.add("ComposerInstanceEjected", w.sel("composer_instance_ejected", "service", svc)+" == 1", duration(wait),
				map[string]string{"service": svc},
				fmt.Sprintf("An instance of %s keeps being ejected", svc),
				fmt.Sprintf("Outlier detection has kept {{ $labels.instance }} of %s out for %s, its max_ejection_time.", svc, duration(wait)))
		}
		if s.Kind == "process" {
			w.add("ComposerProcessRestartLoop", fmt.Sprintf("increase(%s[10m]) >= 3", w.sel("composer_process_restarts_total", "service", svc)), "",
				map[string]string{"service": svc},
				fmt.Sprintf("%s is restarting in a loop", svc),
				fmt.Sprintf("{{ $labels.instance }} of %s restarted {{ $value | humanize }} times in 10m.", svc))
		}
	}
	for _, route := range slices.Sorted(maps.Keys(model.EventRoutes)) {
		r := model.EventRoutes[route]
		w.add("ComposerDeadLetters", fmt.Sprintf("increase(%s[10m]) > 0", w.sel("composer_events_total", "route", route, "outcome", "dead_lettered")), "",
			map[string]string{"route": route},
			fmt.Sprintf("Event route %s dead-letters events", route),
			fmt.Sprintf("{{ $value | humanize }} events of %s could not be delivered to %s in 10m and went to %s.", r.Topic, strings.Join(r.To, ", "), r.DeadLetter))
	}
	w.add("ComposerOutboxNotDraining", fmt.Sprintf("min_over_time(%s[5m]) > 0", w.sel("composer_outbox_events")), "", nil,
		"The outbox of "+name+" is not draining",
		"{{ $value | humanize }} events have waited in the outbox for 5m: the event bus does not take them.")
	if model.Bus.Kind == "kafka" {
		lag := w.sel("composer_kafka_consumer_lag")
		w.add("ComposerConsumerLagGrowing", fmt.Sprintf("min_over_time(%s[10m]) > 0 and deriv(%s[10m]) > 0", lag, lag), "10m", nil,
			"Consumer group {{ $labels.group }} falls behind",
			"{{ $labels.group }} has {{ $value | humanize }} messages to read and the lag grows.")
	}
	w.add("ComposerReloadFailing", w.sel("composer_reload_failed")+" == 1", "1m", nil,
		"The platform file of "+name+" does not load",
		"The last reload failed: the running platform is the previous generation (composer validate shows why).")
	return File{Groups: []Group{{Name: "composer-" + name, Rules: w.rules}}}, nil
}

// YAML is f as a rule file.
func (f File) YAML() []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		panic(err) // plain structs of strings always marshal
	}
	return b.Bytes()
}

type writer struct {
	selector, platform string
	rules              []Rule
}

// sel is a series selector of metric with the label pairs and the
// writer's selector.
func (w *writer) sel(metric string, pairs ...string) string {
	var m []string
	for i := 0; i+1 < len(pairs); i += 2 {
		m = append(m, fmt.Sprintf("%s=%q", pairs[i], pairs[i+1]))
	}
	if w.selector != "" {
		m = append(m, w.selector)
	}
	if len(m) == 0 {
		return metric
	}
	return metric + "{" + strings.Join(m, ",") + "}"
}

func (w *writer) add(alert, expr, forDur string, labels map[string]string, summary, description string) {
	k := kind(alert)
	l := map[string]string{"severity": k.Severity, "platform": w.platform}
	for key, v := range labels {
		l[key] = v
	}
	w.rules = append(w.rules, Rule{Alert: alert, Expr: expr, For: forDur, Labels: l,
		Annotations: map[string]string{"summary": summary, "description": description}})
}

func kind(name string) Kind {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	panic("alerts: no kind " + name)
}

// minimum is d, at least a minute (shorter windows see too few scrapes).
func minimum(d time.Duration) time.Duration { return max(d, time.Minute) }

// duration writes d as Prometheus reads it: 1h30m, 90s, 1m.
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}
