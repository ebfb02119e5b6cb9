package composer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tuskcompose/composer/tsk"
)

// switchRule is one of the seed's switches: the value the composer
// behaves as (nil: none; any value set is only reported) and what to tell
// a user who sets another.
type switchRule struct {
	path  string
	honor *bool // the switch has no effect unless set to this
	what  string
}

// yes is a switch rule's honor: true (every switch the composer does
// not honour today is one it always behaves as if set).
var yes = func() *bool { b := true; return &b }()

// switchRules are the seed's switches that do not change what the
// composer does: each is reported when it asks for something else than
// what happens. enable_circuit_breaker, enable_distributed_tracing and
// enable_metrics of [microservices_configuration] are honoured and are
// not listed.
var switchRules = []switchRule{
	{"microservices_architecture.service_mesh", yes, "services reach each other through the composer whenever they declare calls"},
	{"microservices_configuration.enable_service_mesh", yes, "services reach each other through the composer whenever they declare calls"},
	{"microservices_architecture.api_gateway", yes, "the gateway always runs"},
	{"microservices_architecture.event_driven", yes, "event routes run whenever [event_routes] declares them"},
	{"service_communication.grpc", yes, `gRPC is spoken with every service whose protocol is "grpc", and the built-in services serve it`},
	{"service_communication.http", yes, "services are always reached over HTTP"},
	{"service_communication.message_queue", yes, "events always go over the bus of [events]"},
	{"service_communication.event_streaming", yes, "events always go over the bus of [events]"},
	{"event_driven_architecture.event_publishing", yes, "the built-in services always publish their events"},
	{"event_driven_architecture.event_consumption", yes, "event routes consume whenever [event_routes] declares them"},
	{"event_driven_architecture.event_sourcing", yes, "the event store keeps every event"},
	{"event_driven_architecture.cqrs", yes, "the built-in services' read models always follow their events"},
}

// kindKeys are the keys of a service block that mean something only for
// some kinds.
var kindKeys = map[string][]string{
	"instances": {"http", "process"}, "load_balancer": {"http", "process"}, "strip_prefix": {"http", "process"},
	"hash_on": {"http", "process"}, "stream_idle_timeout": {"http", "process"}, "protocol": {"http", "process"},
	"command": {"process"}, "shell": {"process"}, "dir": {"process"}, "env": {"process"}, "port": {"process"},
	"restart": {"process"}, "max_restarts": {"process"}, "restart_backoff": {"process"}, "stop_signal": {"process"},
	"stop_timeout": {"process"}, "publishes": {"process"},
	"path_rewrite": {"http", "process"}, "discovery": {"http"}, "response_headers": {"http", "process"},
	// timeout, retries and the other retry keys apply to every kind: for a
	// builtin, to the calls other services make to it (orders -> users).
}

// grpcKeys are the keys of a service block that mean something only with
// protocol "grpc".
var grpcKeys = []string{"failure_codes", "retry_on", "stream_timeout"}

// Warnings reports what a valid platform says that has no effect: the
// seed's switches that change nothing, keys that do not apply to their
// service's kind, breaker blocks of services that have no breaker. They
// do not make a platform invalid (the seed's own files set the switches),
// and they have Severity tsk.Warning.
func Warnings(r *Resolved) tsk.Diagnostics {
	p := r.Platform
	var out tsk.Diagnostics
	warn := func(src Source, format string, args ...any) {
		out = append(out, tsk.Diagnostic{Pos: src.Pos(), End: src.End(), Severity: tsk.Warning, Msg: fmt.Sprintf(format, args...)})
	}
	for _, rule := range switchRules {
		section, key, _ := strings.Cut(rule.path, ".")
		if !r.Src.Key(section).Has(key) {
			continue
		}
		src := r.Src.Key(section).Key(key)
		if v := src.Value(); rule.honor != nil && v.Kind == tsk.Bool && v.Bool == *rule.honor {
			continue
		}
		warn(src, "%s: %s; the switch has no effect", rule.path, rule.what)
	}
	if arch := r.Src.Key("microservices_architecture"); arch.Has("distributed_tracing") {
		src := arch.Key("distributed_tracing")
		if v := src.Value(); v.Kind == tsk.Bool && v.Bool != p.Configuration.EnableDistributedTracing {
			warn(src, "microservices_architecture.distributed_tracing: tracing follows [microservices_configuration] enable_distributed_tracing (%v); the switch has no effect",
				p.Configuration.EnableDistributedTracing)
		}
	}
	if r.Src.Has("microservices_components") && len(r.Src.Key("microservices_components").Keys()) > 0 {
		warn(r.Src.Key("microservices_components"), "[microservices_components] names components the composer does not read; it has no effect")
	}
	service := func(name string, s *Service, rs *ResolvedService) (warned bool) {
		for _, m := range rs.Src.Members() {
			if kinds, ok := kindKeys[m.Key]; ok && !slices.Contains(kinds, s.Kind) {
				warn(Source{m.Value}, "services.%s.%s: %s applies to %s services; for %s %s service it has no effect",
					name, m.Key, m.Key, joinOr(kinds), article(s.Kind), s.Kind)
				warned = true
			} else if slices.Contains(grpcKeys, m.Key) && rs.Protocol != "grpc" {
				warn(Source{m.Value}, `services.%s.%s: %s applies to services with protocol: "grpc"; for protocol %q it has no effect`,
					name, m.Key, m.Key, rs.Protocol)
				warned = true
			}
		}
		return warned
	}
	if places, ok := r.res.toWarnAbout(); ok {
		// Only the services that changed, or had warnings, since the
		// last load's Warnings can have them.
		var warned []int
		for _, i := range places {
			if at := r.res.order[i]; service(at.name, at.s, r.Services[at.name]) {
				warned = append(warned, i)
			}
		}
		r.res.warned.Store(&warned)
	} else {
		var warned []int
		for i, name := range serviceOrder(r, r.ServiceNames()) {
			s, rs := p.Services[name], r.Services[name]
			if s == nil || rs == nil {
				continue
			}
			if service(name, s, rs) {
				warned = append(warned, i)
			}
		}
		if r.res != nil && r.res.order != nil {
			r.res.warned.Store(&warned)
		}
	}
	breakers := r.Src.Key("circuit_breaker")
	if p.Configuration.EnableCircuitBreaker {
		for _, name := range sortedKeysOf(r, "circuit_breaker", p.CircuitBreaker.PerTarget) {
			if _, ok := r.Breakers[name]; !ok && p.Services[name] != nil && breakers.Has(name) {
				warn(breakers.Key(name), "circuit_breaker.%s: %s has no breaker (only http and process services, and services something calls, do)", name, name)
			}
		}
	} else if r.Src.Has("circuit_breaker") {
		warn(breakers, "[circuit_breaker] has no effect: enable_circuit_breaker is false")
	}
	return out.Sort()
}

func article(word string) string {
	if word == "http" {
		return "an"
	}
	return "a"
}

func joinOr(xs []string) string {
	switch len(xs) {
	case 1:
		return xs[0]
	case 2:
		return xs[0] + " and " + xs[1]
	}
	return fmt.Sprint(xs)
}
