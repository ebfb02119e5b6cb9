package composer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/ratelimit"
	"github.com/tuskcompose/composer/services"
)

// The actions of a Diff.
const (
	Keep         = "keep"          // carried over with what it learned
	Add          = "add"           // built and started
	Replace      = "replace"       // built anew; the old one stops after the swap
	Remove       = "remove"        // stopped after the swap
	NeedsRestart = "needs-restart" // changed, but takes effect at the next start; the running one is kept
)

// The kinds of component, in the order a plan lists them.
const (
	KindComposer    = "composer"     // [composer] and the metrics and tracing switches
	KindBus         = "bus"          // the event bus
	KindService     = "service"      // a service's entry in the gateway: kind, timeout, retries, ...
	KindRoute       = "route"        // one gateway route, by its pattern
	KindInstance    = "instance"     // one instance of an http service, "service url"
	KindBalancer    = "balancer"     // a service's load balancer over its instances
	KindHealthCheck = "health_check" // a service's health checker
	KindBreaker     = "breaker"      // a call target's circuit breaker
	KindProcess     = "process"      // the instances of a process service
	KindEventRoute  = "event_route"  // an event route and its consumer
	KindConsumer    = "consumer"     // the Kafka consumer that keeps the event store
	KindAuth        = "auth"         // an [auth] policy
)

var kindOrder = []string{KindComposer, KindBus, KindAuth, KindService, KindRoute, KindInstance, KindBalancer,
	KindHealthCheck, KindBreaker, KindProcess, KindEventRoute, KindConsumer}

// Action is what a reload does with one component.
type Action struct {
	Action string `json:"action"` // keep | add | replace | remove | needs-restart
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
}

func (a Action) String() string {
	op := map[string]string{Add: "+", Remove: "-", Replace: "~", NeedsRestart: "!", Keep: "="}[a.Action]
	s := fmt.Sprintf("%s %s %s", op, strings.ReplaceAll(a.Kind, "_", " "), a.Name)
	if a.Action == NeedsRestart {
		s += " (needs a restart)"
	}
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// Actions are the actions of a reload, in plan order.
type Actions []Action

// Of returns the action for a component: Keep for one the actions do not
// name (see Diff). The actions are in plan order. A caller that asks for
// many uses Index.
func (as Actions) Of(kind, name string) string {
	i := sort.Search(len(as), func(i int) bool { return !actionLess(as[i], kind, name) })
	if i < len(as) && as[i].Kind == kind && as[i].Name == name {
		return as[i].Action
	}
	return Keep
}

// ActionIndex is the actions of a Diff by component, for callers that
// ask for many (the runner, building a generation).
type ActionIndex map[[2]string]string

// Index returns the actions by component.
func (as Actions) Index() ActionIndex {
	idx := make(ActionIndex, len(as))
	for _, a := range as {
		idx[[2]string{a.Kind, a.Name}] = a.Action
	}
	return idx
}

// Of returns the action for a component: Keep for one the actions do not
// name.
func (idx ActionIndex) Of(kind, name string) string {
	if a, ok := idx[[2]string{kind, name}]; ok {
		return a
	}
	return Keep
}

func actionLess(a Action, kind, name string) bool {
	ka, kb := slices.Index(kindOrder, a.Kind), slices.Index(kindOrder, kind)
	return ka < kb || ka == kb && a.Name < name
}

// Diff says what a reload from cur to next changes: the components it
// adds, replaces or removes, and, for what takes effect only at start
// ([composer] and the bus), those that need a restart. Every other
// component is kept, with what it learned (equal effective settings):
// the actions do not list it, and Of answers Keep for it, so that a
// one-service edit of a big platform costs its changes, not a list of
// everything kept. cur is nil at the first start (everything is added).
// The runner carries out exactly these actions, and `composer plan`
// prints them: nothing else decides what a reload keeps.
//
// Components are compared by their JSON form, so a Resolved that went
// through GET /v1/platform compares equal to the one it came from.
func Diff(cur, next *Resolved) Actions {
	if cur == nil {
		cur = &Resolved{}
	}
	next = Carry(cur, next)
	var out Actions
	restartOnly := map[string]bool{KindComposer: true, KindBus: true}
	// A service resolved into the very value that runs, or into one made
	// as it (the memo hands it out again when its block and what it
	// inherits did not change, moved when its text moved), keeps its
	// components without their views being made and compared.
	var a, b map[string]map[string]any
	if services, breakers, ok := changedSince(cur, next); ok {
		// next was patched from the resolution cur runs: only what the
		// patch visited can differ.
		a, b = componentsOf(cur, services, breakers), componentsOf(next, services, breakers)
	} else {
		same := make(map[string]bool, len(next.Services))
		for name, s := range next.Services {
			if c := cur.Services[name]; c == s || c != nil && c.origin != nil && c.origin == s.origin {
				same[name] = true
			}
		}
		// Breakers with equal settings likewise (there is one per call
		// target: most of a big platform's components).
		sameBreakers := make(map[string]bool, len(next.Breakers))
		for target, b := range next.Breakers {
			if c, ok := cur.Breakers[target]; ok && c == b {
				sameBreakers[target] = true
			}
		}
		a, b = components(cur, same, sameBreakers), components(next, same, sameBreakers)
	}
	n := 0
	for _, byName := range b {
		n += len(byName)
	}
	for _, byName := range a { // (what a removes; a and b are small)
		n += len(byName)
	}
	out = make(Actions, 0, n)
	for _, kind := range kindOrder {
		restartOnly := restartOnly[kind]
		for _, name := range union(sortedKeys(a[kind]), sortedKeys(b[kind])) {
			x, inA := a[kind][name]
			y, inB := b[kind][name]
			act := Action{Kind: kind, Name: name}
			switch {
			case !inA:
				act.Action, act.Reason = Add, describe(kind, y)
			case !inB:
				act.Action = Remove
			default:
				if encodeEqual(x, y) {
					act.Action = Keep
				} else {
					act.Action, act.Reason = Replace, changes(x, y)
					if bx, ok := x.(balancerView); ok && bx.Process != y.(balancerView).Process {
						bx.Process = y.(balancerView).Process
						act.Reason = strings.Trim("over new instances; "+changes(bx, y), "; ")
					}
				}
			}
			if restartOnly && inA && next.restartWanted != nil {
				// The next platform carries the running one's (Carry);
				// say what the file asks for.
				if w := restartView(kind, next.restartWanted); !encodeEqual(x, w) {
					act.Action, act.Reason = NeedsRestart, changes(x, w)
				}
			}
			if act.Action != Keep {
				out = append(out, act)
			}
		}
	}
	return out
}

// Carry returns next as a reload runs it: with cur's [composer] settings
// and bus, which take effect only at the next start. At the first start
// (cur empty) next is returned as it is. What the file asked for is kept
// in restartWanted, for Diff to report.
func Carry(cur, next *Resolved) *Resolved {
	if cur == nil || cur.Services == nil {
		return next
	}
	// The registered instances are the running platform's, not the file's
	// (unless next is the registry's own change).
	if !next.registered {
		next = next.WithRegistered(cur.RegisteredURLs())
	}
	if next.restartWanted != nil {
		return next
	}
	if encodeEqual(cur.Composer, next.Composer) && encodeEqual(cur.Bus, next.Bus) {
		return next
	}
	out := *next
	out.restartWanted = &restartSettings{Composer: next.Composer, Bus: next.Bus}
	out.Composer, out.Bus = cur.Composer, cur.Bus
	return &out
}

// restartSettings are the settings a file asked for that the running
// platform takes only at its next start.
type restartSettings struct {
	Composer ComposerSettings
	Bus      BusSettings
}

func restartView(kind string, w *restartSettings) any {
	if w == nil {
		return nil
	}
	if kind == KindComposer {
		return w.Composer
	}
	return w.Bus
}

// components lists a platform's components by kind and name, each with
// the value whose equality decides keep or replace; the services in skip
// and the breakers in skipBreakers are left out (see Diff).
func components(r *Resolved, skip, skipBreakers map[string]bool) map[string]map[string]any {
	out := map[string]map[string]any{}
	if r.Services == nil {
		return out // the empty platform before the first start
	}
	platformComponents(r, out)
	for name, s := range r.Services {
		if !skip[name] {
			serviceComponents(out, name, s)
		}
	}
	for target, b := range r.Breakers {
		if !skipBreakers[target] {
			put(out, KindBreaker, target, b)
		}
	}
	return out
}

// componentsOf is components with only the services and breakers named
// (those a patched resolution visited).
func componentsOf(r *Resolved, services, breakers []string) map[string]map[string]any {
	out := map[string]map[string]any{}
	platformComponents(r, out)
	for _, name := range services {
		if s := r.Services[name]; s != nil {
			serviceComponents(out, name, s)
		}
	}
	for _, target := range breakers {
		if b, ok := r.Breakers[target]; ok {
			put(out, KindBreaker, target, b)
		}
	}
	return out
}

func put(out map[string]map[string]any, kind, name string, v any) {
	if out[kind] == nil {
		out[kind] = map[string]any{}
	}
	out[kind][name] = v
}

// platformComponents are r's components other than services and
// breakers: [composer], the bus, [auth] policies, event routes and the
// event store's consumer.
func platformComponents(r *Resolved, out map[string]map[string]any) {
	put(out, KindComposer, KindComposer, r.Composer)
	put(out, KindBus, KindBus, r.Bus)
	for name, a := range r.Auth {
		put(out, KindAuth, name, a)
	}
	for name, er := range r.EventRoutes {
		put(out, KindEventRoute, name, er)
	}
	if r.Bus.Kind == "kafka" {
		put(out, KindConsumer, "store", storeConsumer{Topics: ProjectionTopics(r)})
	}
}

// serviceComponents are a service's components: the service, its
// routes, and its instances, balancer, process and health check.
func serviceComponents(out map[string]map[string]any, name string, s *ResolvedService) {
	put(out, KindService, name, serviceView{Kind: s.Kind, Timeout: s.Timeout, Retries: s.Retries,
		StripPrefix: s.StripPrefix, Calls: s.Calls, Publishes: s.Publishes, DependsOn: s.DependsOn, StartTimeout: s.StartTimeout,
		Retry: s.Retry, Deadline: s.Deadline, MaxBodySize: s.MaxBodySize, HashOn: s.HashOn, StreamIdleTimeout: s.StreamIdleTimeout,
		Protocol: s.Protocol, GRPC: s.GRPC, Auth: s.Auth, RateLimit: s.RateLimit,
		CORS: s.CORS, RequestHeaders: s.RequestHeaders, ResponseHeaders: s.ResponseHeaders, PathRewrite: s.PathRewrite, SMTP: s.SMTP})
	for _, route := range s.Routes {
		put(out, KindRoute, route, name)
	}
	switch s.Kind {
	case "http":
		for _, u := range s.Instances {
			put(out, KindInstance, name+" "+u, u)
		}
		put(out, KindBalancer, name, balancerView{Policy: s.Balancer, Instances: s.Instances, Weights: s.Weights, Outlier: s.Outlier})
	case "process":
		put(out, KindProcess, name, s.Process)
		put(out, KindBalancer, name, balancerView{Policy: s.Balancer, Process: digest(s.Process), Outlier: s.Outlier})
	}
	if s.Health != nil {
		put(out, KindHealthCheck, name, s.Health)
	}
}

type serviceView struct {
	Kind         string        `json:"kind"`
	Timeout      time.Duration `json:"timeout"`
	Retries      int           `json:"retries"`
	StripPrefix  bool          `json:"strip_prefix"`
	Calls        []string      `json:"calls"`
	Publishes    []string      `json:"publishes"`
	DependsOn    Dependencies  `json:"depends_on"`
	StartTimeout time.Duration `json:"start_timeout"`
	Retry        gateway.Retry `json:"retry"`
	Deadline     time.Duration `json:"deadline"`
	MaxBodySize  int64         `json:"max_body_size"`
	HashOn       string        `json:"hash_on"`
	// StreamIdleTimeout closes an answer that stays silent that long.
	StreamIdleTimeout time.Duration        `json:"stream_idle_timeout"`
	Protocol          string               `json:"protocol"`
	GRPC              *gateway.GRPC        `json:"grpc,omitempty"`
	Auth              string               `json:"auth,omitempty"`
	RateLimit         *ratelimit.Settings  `json:"rate_limit,omitempty"`
	CORS              *CORSSettings        `json:"cors,omitempty"`
	RequestHeaders    *gateway.HeaderRules `json:"request_headers,omitempty"`
	ResponseHeaders   *gateway.HeaderRules `json:"response_headers,omitempty"`
	PathRewrite       string               `json:"path_rewrite,omitempty"`
	SMTP              *SMTPSettings        `json:"smtp,omitempty"`
}

type balancerView struct {
	Policy    string   `json:"load_balancer"`
	Instances []string `json:"instances,omitempty"`
	Weights   []int    `json:"weights,omitempty"`
	// Process is a digest of the process spec: new instances, a new
	// balancer.
	Process string           `json:"process,omitempty"`
	Outlier balancer.Outlier `json:"outlier_detection"`
}

type storeConsumer struct {
	Topics []string `json:"topics"`
}

// ProjectionTopics are the topics whose events the event store keeps on
// Kafka: those the built-in services publish and those the event routes
// read.
func ProjectionTopics(r *Resolved) []string {
	topics := slices.Clone(services.Topics)
	for _, er := range r.EventRoutes {
		topics = append(topics, er.Topic)
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// describe is the reason of an add: what the component is.
func describe(kind string, v any) string {
	switch x := v.(type) {
	case serviceView:
		return x.Kind
	case string:
		if kind == KindRoute {
			return "to " + x
		}
	case *ResolvedRoute:
		return x.Topic + " -> " + list(x.To)
	case balancerView:
		return x.Policy
	case *ProcessSpec:
		return strings.Join(x.Command, " ")
	}
	return ""
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf("%#v", v))
	}
	return b
}

// encodeEqual reports whether a and b have the same JSON form: equal
// values do (the fast answer, and the common one in a reload), else their
// encodings are compared (a model that went through GET /v1/platform has
// empty lists where the other has none).
func encodeEqual(a, b any) bool { return reflect.DeepEqual(a, b) || bytes.Equal(encode(a), encode(b)) }

func digest(v any) string {
	sum := sha256.Sum256(encode(v))
	return hex.EncodeToString(sum[:4])
}

// changes lists the fields of two values of one struct type that differ,
// by their JSON names: "timeout 0s -> 2s; retries 1 -> 2". Other values
// are shown whole.
func changes(x, y any) string {
	vx, vy := deref(reflect.ValueOf(x)), deref(reflect.ValueOf(y))
	if !vx.IsValid() || !vy.IsValid() || vx.Kind() != reflect.Struct || vx.Type() != vy.Type() {
		return fmt.Sprintf("%s -> %s", shown(vx), shown(vy))
	}
	var parts []string
	t := vx.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		a, b := vx.Field(i), vy.Field(i)
		if !encodeEqual(a.Interface(), b.Interface()) {
			parts = append(parts, fmt.Sprintf("%s %s -> %s", name, shown(a), shown(b)))
		}
	}
	return strings.Join(parts, "; ")
}

func deref(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

// shown is a value as a plan prints it.
func shown(v reflect.Value) string {
	v = deref(v)
	if !v.IsValid() {
		return "none"
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []string:
		return list(x)
	case Dependencies:
		return list(x.Names())
	}
	switch v.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return string(encode(v.Interface()))
	}
	return fmt.Sprint(v.Interface())
}

func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
