package composer

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Change is one difference between two platforms, as `composer plan`
// prints it: "+ service billing (http)", "- event route audit",
// "~ breaker billing: failure_threshold 5 -> 3".
type Change struct {
	Op   byte   // '+' added, '-' removed, '~' changed
	What string // "service billing"
	How  string // details, for changes
}

func (c Change) String() string {
	s := string(c.Op) + " " + c.What
	if c.How != "" {
		s += ": " + c.How
	}
	return s
}

// Plan lists what a reload from cur to next would change: services,
// instances, routes, breakers, health checks and event routes.
func Plan(cur, next *Platform) []Change {
	var out []Change
	for _, name := range union(sortedKeys(cur.Services), sortedKeys(next.Services)) {
		a, b := cur.Services[name], next.Services[name]
		switch {
		case a == nil:
			out = append(out, Change{'+', "service " + name, fmt.Sprintf("%s, routes %s", b.Kind, list(b.Routes))})
		case b == nil:
			out = append(out, Change{'-', "service " + name, ""})
		default:
			var how []string
			if a.Kind != b.Kind {
				how = append(how, fmt.Sprintf("kind %s -> %s", a.Kind, b.Kind))
			}
			if d := listDiff(a.Routes, b.Routes); d != "" {
				how = append(how, "routes "+d)
			}
			if d := listDiff(a.Instances.URLs, b.Instances.URLs); d != "" {
				how = append(how, "instances "+d)
			}
			if a.Instances.Count != b.Instances.Count {
				how = append(how, fmt.Sprintf("instances %d -> %d", a.Instances.Count, b.Instances.Count))
			}
			how = append(how, fieldDiff(*a, *b, "Kind", "Routes", "Instances")...)
			if len(how) > 0 {
				out = append(out, Change{'~', "service " + name, strings.Join(how, "; ")})
			}
		}
	}
	for _, target := range union(breakerTargets(cur), breakerTargets(next)) {
		a, b := effectiveBreaker(cur, target), effectiveBreaker(next, target)
		if how := fieldDiff(a, b); len(how) > 0 {
			out = append(out, Change{'~', "breaker " + target, strings.Join(how, "; ")})
		}
	}
	for _, name := range union(httpServices(cur), httpServices(next)) {
		a, b := effectiveHealth(cur, name), effectiveHealth(next, name)
		if how := fieldDiff(a, b); len(how) > 0 && cur.Services[name] != nil && next.Services[name] != nil {
			out = append(out, Change{'~', "health checks of " + name, strings.Join(how, "; ")})
		}
	}
	for _, name := range union(sortedKeys(cur.EventRoutes), sortedKeys(next.EventRoutes)) {
		a, okA := cur.EventRoutes[name]
		b, okB := next.EventRoutes[name]
		switch {
		case !okA:
			out = append(out, Change{'+', "event route " + name, fmt.Sprintf("%s -> %s", b.Topic, list(b.To))})
		case !okB:
			out = append(out, Change{'-', "event route " + name, ""})
		default:
			if how := fieldDiff(a, b); len(how) > 0 {
				out = append(out, Change{'~', "event route " + name, strings.Join(how, "; ")})
			}
		}
	}
	if how := fieldDiff(cur.Composer, next.Composer); len(how) > 0 {
		out = append(out, Change{'~', "composer settings", strings.Join(how, "; ") + " (take effect at the next start)"})
	}
	return out
}

// fieldDiff lists the fields of two structs of one type that differ, by
// their tsk key, skipping the named fields.
func fieldDiff(a, b any, skip ...string) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if slices.Contains(skip, f.Name) || !f.IsExported() {
			continue
		}
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(x, y) {
			key, _, _ := strings.Cut(f.Tag.Get("tsk"), ",")
			if key == "" {
				key = f.Name
			}
			out = append(out, fmt.Sprintf("%s %s -> %s", key, show(x), show(y)))
		}
	}
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return x.String()
	case SeedDuration:
		return time.Duration(x).String()
	case []string:
		return list(x)
	case string:
		if x == "" {
			return `""`
		}
	}
	return fmt.Sprint(v)
}

func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

// listDiff says what was added to and removed from a list: "+a -b".
func listDiff(a, b []string) string {
	var parts []string
	for _, x := range b {
		if !slices.Contains(a, x) {
			parts = append(parts, "+"+x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			parts = append(parts, "-"+x)
		}
	}
	return strings.Join(parts, " ")
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// breakerTargets are the call targets that have a breaker: every http
// service and every service something calls.
func breakerTargets(p *Platform) []string {
	var out []string
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if s.Kind == "http" && !slices.Contains(out, name) {
			out = append(out, name)
		}
		for _, c := range s.Calls {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func effectiveBreaker(p *Platform, target string) CircuitBreaker {
	cfg := p.CircuitBreaker.CircuitBreaker
	if over, ok := p.CircuitBreaker.PerTarget[target]; ok {
		cfg = overlay(cfg, over)
	}
	return cfg
}

func httpServices(p *Platform) []string {
	var out []string
	for _, name := range sortedKeys(p.Services) {
		if p.Services[name].Kind == "http" {
			out = append(out, name)
		}
	}
	return out
}

func effectiveHealth(p *Platform, name string) HealthCheck {
	hc := p.HealthChecks.HealthCheck
	if over, ok := p.HealthChecks.PerService[name]; ok {
		hc = overlay(hc, over)
	}
	if s := p.Services[name]; s != nil && s.HealthEndpoint != "" {
		hc.Path = s.HealthEndpoint
	}
	return hc
}
