package composer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/eventfilter"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/parser"
	"github.com/tuskcompose/composer/services"
	"github.com/tuskcompose/composer/tsk"
)

// The values that enumerated settings accept.
var (
	serviceKinds  = []string{"builtin", "http", "process"}
	loadBalancers = []string{"round_robin", "least_requests", "random"}
	restarts      = []string{"no", "on-failure", "always"}
	buses         = []string{"embedded", "kafka"}
	conditions    = []string{"started", "healthy", "completed"}
)

// Validate checks what decoding alone cannot: settings with a fixed set of
// values, references between services (calls, depends_on, event route
// targets), dependency cycles and routes declared twice. Every problem is
// reported, at its position in doc, which must be the document p was
// decoded from.
func Validate(p *Platform, doc *tsk.Document) tsk.Diagnostics {
	v := &validator{p: p, doc: doc}
	names := sortedKeys(p.Services)
	routes := map[string]string{} // route -> the service that declared it first
	for _, name := range serviceOrder(doc, names) {
		s := p.Services[name]
		if s == nil {
			continue
		}
		base := "services." + name
		v.oneOf(base+".kind", s.Kind, serviceKinds)
		switch s.Kind {
		case "builtin":
			if !services.IsBuiltin(name) {
				v.errorf(base, "there is no built-in service %q (the built-in services are %s)%s",
					name, strings.Join(services.Builtin, ", "), suggest(name, services.Builtin))
				break
			}
			own := services.BuiltinRoutes[name]
			for i, r := range s.Routes {
				if !slices.Contains(own, r) {
					v.errorf(fmt.Sprintf("%s.routes.%d", base, i), "the built-in %s serves %s, not %q%s", name, strings.Join(own, ", "), r, suggest(r, own))
				}
			}
		case "http":
			if s.Instances.Count > 0 {
				v.errorf(base+".instances", "an http service's instances are URLs: [\"http://127.0.0.1:7001\", ...]; a number of copies is for a process")
			} else if len(s.Instances.URLs) == 0 {
				v.errorf(base, "an http service needs instances: [\"http://127.0.0.1:7001\", ...]")
			}
			for i, inst := range s.Instances.URLs {
				if u, err := url.Parse(inst); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					v.errorf(fmt.Sprintf("%s.instances.%d", base, i), "instance %q is not an http:// or https:// URL", inst)
				}
			}
			if s.LoadBalancer != "" {
				v.oneOf(base+".load_balancer", s.LoadBalancer, loadBalancers)
			}
		case "process":
			if len(s.Command) == 0 {
				v.errorf(base, "a process service needs a command: [\"./bin/app\", \"--port\", \"${PORT}\"]")
			}
			if s.Restart != "" {
				v.oneOf(base+".restart", s.Restart, restarts)
			}
			if s.Instances.URLs != nil {
				v.errorf(base+".instances", "a process service's instances is a number of copies, such as 2")
			}
			if s.StopSignal != "" {
				if _, ok := signals[strings.ToUpper(s.StopSignal)]; !ok {
					v.errorf(base+".stop_signal", "%q is not one of SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2", s.StopSignal)
				}
			}
			if s.Port < 0 || s.Port > 65535 {
				v.errorf(base+".port", "port %d is not 0 (any free port) to 65535", s.Port)
			}
			if s.MaxRestarts < 0 {
				v.errorf(base+".max_restarts", "max_restarts cannot be negative")
			}
		}
		v.references(base+".calls", s.Calls, names)
		for i, d := range s.DependsOn {
			path := v.depPath(base, i, d)
			if !slices.Contains(names, d.Service) {
				v.errorf(path, "%q is not a service%s", d.Service, suggest(d.Service, names))
				continue
			}
			v.oneOf(path, d.Condition, conditions)
			if d.Condition == "completed" && p.Services[d.Service] != nil && p.Services[d.Service].Kind != "process" {
				v.errorf(path, "only a process can complete; %s is a %s service", d.Service, p.Services[d.Service].Kind)
			}
		}
		for i, r := range s.Routes {
			path := fmt.Sprintf("%s.routes.%d", base, i)
			switch first, dup := routes[r]; {
			case !strings.HasPrefix(r, "/"):
				v.errorf(path, "route %q must start with /", r)
			case dup && first == name:
				v.errorf(path, "route %q is declared twice in %s", r, name)
			case dup:
				v.errorf(path, "route %q is already served by %s", r, first)
			default:
				routes[r] = name
			}
		}
	}
	v.routeConflicts(serviceOrder(doc, names))
	v.cycles(names)
	v.oneOf("events.bus", p.Events.Bus, buses)
	if p.Events.Bus == "kafka" && len(p.Events.Brokers) == 0 {
		v.errorf("events", `the kafka bus needs brokers: ["127.0.0.1:9092"]`)
	}
	v.kafka(p.Events)
	v.retry("events.retry", p.Events.Retry)
	for _, name := range sortedKeys(p.EventRoutes) {
		route := p.EventRoutes[name]
		if route.Filter != "" {
			v.filter("event_routes."+name+".filter", route.Filter)
		}
		v.retry("event_routes."+name+".retry", route.Retry)
		if route.DeadLetter != "" && route.DeadLetter == route.Topic {
			v.errorf("event_routes."+name+".dead_letter", "the dead-letter topic cannot be the route's own topic %q", route.Topic)
		}
		for i, to := range route.To {
			path := fmt.Sprintf("event_routes.%s.to.%d", name, i)
			if strings.Contains(to, "://") {
				if u, err := url.Parse(to); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					v.errorf(path, "event route target %q is neither a service nor an http:// or https:// URL", to)
				}
				continue
			}
			if _, ok := p.Services[to]; !ok {
				v.errorf(path, "event route target %q is not a service%s", to, suggest(to, names))
			} else if d := services.Lookup(to); d == nil || !d.Consumes || p.Services[to].Kind != "builtin" {
				v.errorf(path, "event route target %q: service %s does not consume events (give a URL, such as \"http://127.0.0.1:7001/hooks\")", to, to)
			}
		}
	}
	blocks(v, "circuit_breaker", p.CircuitBreaker.PerTarget, names)
	blocks(v, "health_checks", p.HealthChecks.PerService, names)
	return v.diags.Sort()
}

// blocks reports the per-service blocks of a section that name no
// service.
func blocks[T any](v *validator, section string, per map[string]T, names []string) {
	for _, name := range sortedKeys(per) {
		if !slices.Contains(names, name) {
			v.errorf(section+"."+name, "%s: %q is not a service, nor a key of [%s]%s", section, name, section, suggest(name, names))
		}
	}
}

type validator struct {
	p     *Platform
	doc   *tsk.Document
	diags tsk.Diagnostics
}

// errorf reports a problem at the value found at path (dotted, with array
// indexes), or at the closest enclosing value that exists.
func (v *validator) errorf(path, format string, args ...any) {
	d := parser.Errorf(v.pos(path), format, args...)
	d.End = v.end(path)
	v.diags = append(v.diags, d)
}

func (v *validator) pos(path string) tsk.Pos { return v.value(path).Pos }

func (v *validator) end(path string) tsk.Pos { return v.value(path).End }

// value is the value at path, or the closest enclosing one that exists.
func (v *validator) value(path string) *tsk.Value {
	for {
		if val := v.doc.Lookup(path); val != nil {
			return val
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return v.doc.Root
		}
		path = path[:i]
	}
}

// depPath is the path of the i-th dependency of a service: by name in a
// depends_on block, by index in a list.
func (v *validator) depPath(base string, i int, d Dependency) string {
	if p := base + ".depends_on." + d.Service; v.doc.Lookup(p) != nil {
		return p
	}
	return fmt.Sprintf("%s.depends_on.%d", base, i)
}

// kafka checks the Kafka settings of [events].
func (v *validator) kafka(e Events) {
	for i, b := range e.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			v.errorf(fmt.Sprintf("events.brokers.%d", i), "broker %q is not a host:port such as \"127.0.0.1:9092\"", b)
		}
	}
	if m := e.SASL.Mechanism; m != "" {
		if !slices.Contains(kafkabus.Mechanisms, strings.ToUpper(m)) {
			v.errorf("events.sasl.mechanism", "%q is not one of %s%s", m, strings.Join(kafkabus.Mechanisms, ", "), suggest(strings.ToUpper(m), kafkabus.Mechanisms))
		}
		if e.SASL.Username == "" {
			v.errorf("events.sasl", "SASL needs a username")
		}
	}
	if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
		v.errorf("events.tls", "cert_file and key_file go together")
	}
	if e.Topics.Partitions < 1 {
		v.errorf("events.topics.partitions", "partitions must be at least 1")
	}
	if e.Topics.ReplicationFactor < 1 {
		v.errorf("events.topics.replication_factor", "replication_factor must be at least 1")
	}
	if e.BatchSize < 1 {
		v.errorf("events.batch_size", "batch_size must be at least 1")
	}
	if e.Linger < 0 {
		v.errorf("events.linger", "linger cannot be negative")
	}
}

// retry checks a retry block.
func (v *validator) retry(path string, r Retry) {
	if r.Attempts < 0 {
		v.errorf(path+".attempts", "attempts cannot be negative")
	}
	if r.Backoff < 0 {
		v.errorf(path+".backoff", "backoff cannot be negative")
	}
	if r.MaxBackoff < 0 {
		v.errorf(path+".max_backoff", "max_backoff cannot be negative")
	}
}

// filter reports the problems of a route's filter expression, each at its
// place inside the expression's string.
func (v *validator) filter(path, expr string) {
	_, err := eventfilter.Compile(expr)
	var errs eventfilter.Errors
	if !errors.As(err, &errs) {
		return
	}
	at := v.pos(path)
	for _, e := range errs {
		pos := at
		if e.Line == 1 {
			pos.Column += e.Column // after the opening quote
			pos.Offset += e.Column
		} else {
			pos.Line += e.Line - 1
			pos.Column = e.Column
		}
		v.diags = append(v.diags, parser.Errorf(pos, "filter: %s", e.Msg))
	}
}

func (v *validator) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.errorf(path, "%q is not one of %s%s", value, strings.Join(allowed, ", "), suggest(value, allowed))
	}
}

// references checks that every name of a list (calls, depends_on) is a
// service.
func (v *validator) references(path string, list, names []string) {
	for i, name := range list {
		if !slices.Contains(names, name) {
			v.errorf(fmt.Sprintf("%s.%d", path, i), "%q is not a service%s", name, suggest(name, names))
		}
	}
}

// cycles reports each dependency cycle of depends_on once, at the first
// service of the cycle in name order.
func (v *validator) cycles(names []string) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		s := v.p.Services[name]
		for i, d := range s.DependsOn {
			dep := d.Service
			if _, ok := v.p.Services[dep]; !ok {
				continue // reported as an unknown reference
			}
			switch state[dep] {
			case visiting:
				at := slices.Index(stack, dep)
				chain := append(slices.Clone(stack[at:]), dep)
				v.errorf(v.depPath("services."+name, i, d), "dependency cycle: %s", strings.Join(chain, " -> "))
			case unvisited:
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range names {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// serviceOrder returns the service names in file order, so that "already
// served by" names the earlier declaration.
func serviceOrder(doc *tsk.Document, sorted []string) []string {
	obj := doc.Lookup("services")
	if obj == nil || obj.Kind != tsk.Object {
		return sorted
	}
	return obj.Obj.Keys()
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func suggest(name string, candidates []string) string {
	if s := tsk.Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// routeConflicts registers every route on a gin router, the gateway's, and
// reports the routes it refuses: `/users/:id` next to `/users/:name`, or a
// catch-all that hides another route. (Identical routes are reported
// before, with the service that declared them first.)
func (v *validator) routeConflicts(order []string) {
	router := gin.New()
	seen := map[string]bool{}
	for _, name := range order {
		s := v.p.Services[name]
		if s == nil {
			continue
		}
		for i, r := range s.Routes {
			if seen[r] || !strings.HasPrefix(r, "/") {
				continue
			}
			seen[r] = true
			if msg := tryRoute(router, r); msg != "" {
				v.errorf(fmt.Sprintf("services.%s.routes.%d", name, i), "route %q conflicts with another route: %s", r, msg)
			}
		}
	}
}

func init() {
	// gin's debug mode prints every route it registers; the composer
	// reports its own way.
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
}

// tryRoute adds a route to router and returns gin's complaint, if any.
func tryRoute(router *gin.Engine, route string) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	router.Handle(http.MethodGet, route, func(*gin.Context) {})
	return ""
}
