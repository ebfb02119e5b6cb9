package composer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/eventfilter"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/ratelimit"
	builtins "github.com/tuskcompose/composer/services"
	"github.com/tuskcompose/composer/tsk"
)

// Resolved is a platform with the effective settings of every component
// that runs: the section defaults, per-target and per-service blocks and
// the services' own keys applied, relative paths made absolute, filters
// compiled. It is what Diff compares and what the runner builds from;
// nothing at run time looks at the decoded Platform's settings again.
//
// Resolved is a value: Resolve makes a new one and nobody changes it
// after. Its JSON form (GET /v1/platform) decodes back into an equal
// Resolved (the compiled filters are recompiled by Compile), which is how
// `composer plan` compares a file with a running platform.
type Resolved struct {
	Composer ComposerSettings            `json:"composer"`
	Bus      BusSettings                 `json:"bus"`
	Services map[string]*ResolvedService `json:"services"`
	// Breakers are the circuit breakers by call target: every http and
	// process service, and every service named in a `calls`. None when
	// [microservices_configuration] enable_circuit_breaker is false.
	Breakers    map[string]breaker.Settings `json:"breakers"`
	EventRoutes map[string]*ResolvedRoute   `json:"event_routes"`
	// Platform is the platform as decoded, for the views that draw it
	// (graph, dashboard, the admin API's lists).
	Platform *Platform `json:"platform"`
	// Src is where the document is written; its sections are its keys.
	Src Source `json:"-"`

	// restartWanted is set by Carry: what the file asked for that takes
	// effect at the next start.
	restartWanted *restartSettings
	// Auth are the [auth] policies by name.
	Auth map[string]auth.Settings `json:"auth,omitempty"`
	// registered is set by WithRegistered: the registered instances are
	// this platform's own, for Carry to keep.
	registered bool
	// doc is the document r was resolved from (nil: none): Resolve and
	// Validate keep what they made of each service in its memo, by the
	// values' Canonical.
	doc *tsk.Document
	// res is what Resolve made of r, kept for the next load (nil: r was
	// not made by Resolve, or was changed since, as by WithRegistered).
	res *resolution
	// registry are the names of the services that discover their
	// instances (nil: not known, any service may; see eachRegistry).
	registry *[]string
}

// eachRegistry calls f with each service of r that discovers its
// instances from the registry (each service when r does not know which,
// as after its JSON form).
func (r *Resolved) eachRegistry(f func(name string, s *ResolvedService)) {
	if r.registry == nil {
		for name, s := range r.Services {
			f(name, s)
		}
		return
	}
	for _, name := range *r.registry {
		if s := r.Services[name]; s != nil {
			f(name, s)
		}
	}
}

// memo is the document's memo (nil without a document or a cache).
func (r *Resolved) memo() *tsk.Memo {
	if r.doc == nil {
		return nil
	}
	return r.doc.Memo()
}

// intern returns the memo's value equal to v, v itself the first time;
// nil for a nil memo. Keys that hold an interned value stay small.
func intern[T comparable](memo *tsk.Memo, name string, v T) *T {
	table := tsk.TableOf[T, *T](memo, name)
	if table == nil {
		return nil
	}
	if p, ok := table.Get(v); ok {
		return p
	}
	table.Put(v, &v)
	return &v
}

// canonical is the document's Canonical (v itself without a document).
func (r *Resolved) canonical(v *tsk.Value) *tsk.Value {
	if r.doc == nil {
		return v
	}
	return r.doc.Canonical(v)
}

// ComposerSettings are the settings that take effect at start: a reload
// that changes them reports needs-restart and keeps the running ones.
type ComposerSettings struct {
	// MeshListen is [mesh] listen: the shared listener of the callers
	// the composer does not start; MeshStrict refuses undeclared calls.
	MeshListen string `json:"mesh_listen"`
	MeshStrict bool   `json:"mesh_strict"`
	Name       string `json:"name"`
	Listen     string `json:"listen"`
	Admin      string `json:"admin"`
	// AdminToken is the admin API's bearer token ("": none); only its
	// digest is shown, so that a changed token is a change.
	AdminToken       string `json:"-"`
	AdminTokenDigest string `json:"admin_token_digest,omitempty"`
	DataDir          string `json:"data_dir"` // absolute
	OTLPEndpoint     string `json:"otlp_endpoint"`
	// DrainTimeout bounds a retired generation's requests and upgraded
	// connections.
	DrainTimeout time.Duration `json:"drain_timeout"`
	Metrics      bool          `json:"enable_metrics"`
	Tracing      bool          `json:"enable_distributed_tracing"`
	// TLS is the gateway's HTTPS (nil: plain HTTP); files absolute.
	TLS *TLSSettings `json:"tls,omitempty"`
	// TrustedProxies are where X-Forwarded-For is believed from.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
}

// TLSSettings are the gateway's certificates and its redirect listener.
type TLSSettings struct {
	Default      gateway.CertPair   `json:"default"` // may be empty when every certificate names its hosts
	Certificates []gateway.CertPair `json:"certificates"`
	RedirectHTTP string             `json:"redirect_http"`
}

// Enabled reports whether the gateway serves HTTPS.
func (t *TLSSettings) Enabled() bool { return t != nil }

// BusSettings are the event bus's: [events] without the retry defaults,
// and the name that prefixes the Kafka consumer groups. They take effect
// at start.
type BusSettings struct {
	Kind     string      `json:"bus"` // embedded | kafka
	Group    string      `json:"group"`
	Brokers  []string    `json:"brokers"`
	ClientID string      `json:"client_id"`
	TLS      KafkaTLS    `json:"tls"`
	SASL     BusSASL     `json:"sasl"`
	Topics   KafkaTopics `json:"topics"`
	// BatchSize and Linger bound a publish.
	BatchSize int           `json:"batch_size"`
	Linger    time.Duration `json:"linger"`
}

// BusSASL is the SASL of the bus; the password is kept only as a digest,
// so that a changed password is a change without the password being shown.
type BusSASL struct {
	Mechanism      string `json:"mechanism"`
	Username       string `json:"username"`
	PasswordDigest string `json:"password_digest,omitempty"`
}

// ResolvedService is one service with its effective settings.
type ResolvedService struct {
	// origin is the value a memo kept that this one was made as (itself,
	// or one whose text moved since: equal but for Src); nil when not
	// from a memo. Diff keeps a service whose origin runs.
	origin *ResolvedService
	// pairs are the names of its breakers toward what it calls:
	// PairBreaker(name, Calls[i]), made with it (and kept with it in the
	// memo).
	pairs []string

	Kind      string       `json:"kind"`
	Routes    []string     `json:"routes"`
	Calls     []string     `json:"calls"`
	Publishes []string     `json:"publishes"` // the event types it may publish
	DependsOn Dependencies `json:"depends_on"`
	Instances []string     `json:"instances"` // http: the URLs, the file's and the registered ones
	// Discovery is "file" or "registry"; Registered are the URLs among
	// Instances that registered at run time (passing), not the file's.
	Discovery   string        `json:"discovery,omitempty"`
	Registered  []string      `json:"registered,omitempty"`
	Weights     []int         `json:"weights"`  // http: the instances' weights (nil: all 1)
	HashOn      string        `json:"hash_on"`  // consistent_hash: what the key is
	Protocol    string        `json:"protocol"` // http | h2c | grpc
	Balancer    string        `json:"load_balancer"`
	Timeout     time.Duration `json:"timeout"`
	Retries     int           `json:"retries"`
	StripPrefix bool          `json:"strip_prefix"`
	// StartTimeout is how long dependents wait for the service.
	StartTimeout time.Duration `json:"start_timeout"`
	// Retry is the backoff, budget and body limit of the retries.
	Retry    gateway.Retry `json:"retry"`
	Deadline time.Duration `json:"deadline"`
	// MaxBodySize is the largest request body the gateway takes (413 over).
	MaxBodySize int64 `json:"max_body_size"`
	// StreamIdleTimeout closes an answer that stays silent that long.
	StreamIdleTimeout time.Duration `json:"stream_idle_timeout"`
	// GRPC is how a gRPC service's calls are judged and bounded (nil
	// unless protocol is "grpc").
	GRPC *gateway.GRPC `json:"grpc,omitempty"`
	// Auth is the [auth] policy of the service's routes ("": none).
	Auth string `json:"auth,omitempty"`
	// RateLimit bounds how often a client calls the service (nil: no limit).
	RateLimit *ratelimit.Settings `json:"rate_limit,omitempty"`
	// CORS is the service's cross-origin policy (nil: none).
	CORS *CORSSettings `json:"cors,omitempty"`
	// RequestHeaders and ResponseHeaders are what is set and removed on
	// the way to the instance and back (nil: nothing).
	RequestHeaders  *gateway.HeaderRules `json:"request_headers,omitempty"`
	ResponseHeaders *gateway.HeaderRules `json:"response_headers,omitempty"`
	// PathRewrite replaces the route's static prefix ("": none; "/" is
	// strip_prefix).
	PathRewrite string `json:"path_rewrite,omitempty"`
	// SMTP is how the built-in notifications sends its emails (nil: it
	// records them only).
	SMTP *SMTPSettings `json:"smtp,omitempty"`
	// Outlier is the outlier ejection of an http or process service.
	Outlier balancer.Outlier `json:"outlier_detection"`
	// Health is nil for a service that is not health-checked: builtins,
	// and processes with neither routes nor a health_endpoint.
	Health *health.Settings `json:"health_checks,omitempty"`
	// Process is what a process service runs (nil for other kinds).
	Process *ProcessSpec `json:"process,omitempty"`
	// Src is the service's block.
	Src Source `json:"-"`
}

// SMTPSettings are [notifications] smtp, the password kept apart (only
// its digest is shown).
type SMTPSettings struct {
	Host           string        `json:"host"`
	Port           int           `json:"port"`
	Username       string        `json:"username,omitempty"`
	Password       string        `json:"-"`
	PasswordDigest string        `json:"password_digest,omitempty"`
	From           string        `json:"from"`
	StartTLS       bool          `json:"starttls"`
	Timeout        time.Duration `json:"timeout"`
}

// CORSSettings are a service's cross-origin policy. The JSON names are
// the platform file's keys.
type CORSSettings struct {
	AllowOrigins     []string      `json:"allow_origins"`
	AllowMethods     []string      `json:"allow_methods"`
	AllowHeaders     []string      `json:"allow_headers"`
	ExposeHeaders    []string      `json:"expose_headers"`
	AllowCredentials bool          `json:"allow_credentials"`
	MaxAge           time.Duration `json:"max_age"`
}

// CORSDefaults are what a cors block gets for the keys it does not set:
// the one place they are written (allow_origins has none: it is needed).
var CORSDefaults = CORSSettings{AllowMethods: []string{"GET", "HEAD", "POST"}, MaxAge: 10 * time.Minute}

// ProcessSpec is what the instances of a process service run. Anything
// in it that changes replaces the instances (blue-green).
type ProcessSpec struct {
	Command []string          `json:"command"`
	Shell   bool              `json:"shell"`
	Dir     string            `json:"dir"` // absolute
	Env     map[string]string `json:"env"`
	Port    int               `json:"port"`   // of the first instance; 0: a free port each
	Copies  int               `json:"copies"` // instances
	// Calls are the services it calls: each an upstream address in its
	// environment, so a change replaces the instances.
	Calls          []string      `json:"calls"`
	Restart        string        `json:"restart"`
	MaxRestarts    int           `json:"max_restarts"`
	RestartBackoff time.Duration `json:"restart_backoff"`
	StopSignal     string        `json:"stop_signal"` // upper case
	StopTimeout    time.Duration `json:"stop_timeout"`
}

// Signal is the spec's stop signal (SIGTERM when it names none).
func (s *ProcessSpec) Signal() syscall.Signal {
	if sig, ok := signals[s.StopSignal]; ok {
		return sig
	}
	return syscall.SIGTERM
}

// ResolvedRoute is one event route with its effective retry and
// dead-letter topic and its compiled filter.
type ResolvedRoute struct {
	Topic      string       `json:"topic"`
	Filter     string       `json:"filter"`
	To         []string     `json:"to"`
	Retry      events.Retry `json:"retry"`
	DeadLetter string       `json:"dead_letter"`
	// Match is the compiled filter (nil: every event).
	Match func(events.Event) (bool, error) `json:"-"`
	// Src is the route's block.
	Src Source `json:"-"`
}

// signals are the stop signals a platform file can name.
var signals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGHUP": syscall.SIGHUP,
	"SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// DefaultStartTimeout is how long dependents wait for a service that sets
// no start_timeout.
const DefaultStartTimeout = 60 * time.Second

// Resolve computes the effective settings of a decoded platform. doc is
// the document p was decoded from: it tells which keys a per-target or
// per-service block sets (so that `false` and `0` override a default) and
// where each element is. Resolve is pure and does not fail: settings it
// cannot make sense of are Validate's to report, and a filter that does
// not compile resolves to none (validation reports it).
func Resolve(p *Platform, doc *tsk.Document) *Resolved {
	base := "."
	if doc != nil && len(doc.Files) > 0 {
		base = filepath.Dir(doc.Files[0])
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	var root Source
	if doc != nil {
		root = Source{doc.Root}
	}
	services, routes := root.Key("services"), root.Key("event_routes")
	r := &Resolved{Platform: p, Src: root, Services: make(map[string]*ResolvedService, len(p.Services)),
		Breakers: make(map[string]breaker.Settings, breakersIn(p)), EventRoutes: make(map[string]*ResolvedRoute, len(p.EventRoutes))}
	c := p.Composer
	r.Composer = ComposerSettings{MeshListen: p.Mesh.Listen, MeshStrict: p.Mesh.Strict, Name: c.Name, Listen: c.Listen, Admin: c.Admin, DataDir: absUnder(base, c.DataDir),
		OTLPEndpoint: c.OTLPEndpoint, DrainTimeout: c.DrainTimeout, Metrics: p.Configuration.EnableMetrics, Tracing: p.Configuration.EnableDistributedTracing}
	e := p.Events
	r.Bus = BusSettings{Kind: e.Bus, Group: c.Name, Brokers: e.Brokers, ClientID: e.ClientID, TLS: e.TLS,
		SASL: BusSASL{Mechanism: e.SASL.Mechanism, Username: e.SASL.Username}, Topics: e.Topics,
		BatchSize: e.BatchSize, Linger: e.Linger}
	if t := c.TLS; t.CertFile != "" || t.KeyFile != "" || len(t.Certificates) > 0 {
		ts := &TLSSettings{RedirectHTTP: t.RedirectHTTP}
		if t.CertFile != "" || t.KeyFile != "" {
			ts.Default = gateway.CertPair{CertFile: absUnder(base, t.CertFile), KeyFile: absUnder(base, t.KeyFile)}
		}
		for _, cert := range t.Certificates {
			ts.Certificates = append(ts.Certificates, gateway.CertPair{Hosts: cert.Hosts,
				CertFile: absUnder(base, cert.CertFile), KeyFile: absUnder(base, cert.KeyFile)})
		}
		r.Composer.TLS = ts
	}
	r.Composer.TrustedProxies = c.TrustedProxies
	for name, a := range p.Auth.Policies {
		if r.Auth == nil {
			r.Auth = map[string]auth.Settings{}
		}
		r.Auth[name] = resolveAuth(a, sourceOf(root.Key("auth"), name), base)
	}
	if c.AdminToken != "" {
		sum := sha256.Sum256([]byte(c.AdminToken))
		r.Composer.AdminToken, r.Composer.AdminTokenDigest = string(c.AdminToken), hex.EncodeToString(sum[:8])
	}
	if r.Bus.ClientID == "" {
		r.Bus.ClientID = c.Name
	}
	if e.SASL.Password != "" {
		sum := sha256.Sum256([]byte(e.SASL.Password))
		r.Bus.SASL.PasswordDigest = hex.EncodeToString(sum[:8])
	}

	r.doc = doc
	last := lastResolution(r.memo(), doc)
	from := intern(r.memo(), "composer.inherited", inherited{health: p.HealthChecks.HealthCheck, authDefault: p.Auth.Default, base: base})
	res := &resolution{inherited: from, auth: r.Auth}
	r.res = res
	// What the next load patches from is kept with a cache only (a load
	// without one makes none of it).
	keep := r.memo() != nil && len(doc.Files) > 0
	if keep {
		res.health = blockValues(r, root.Key("health_checks"), p.HealthChecks.PerService)
	}
	members := services.Members()
	changed, patched := patchServices(r, res, last, members)
	if !patched {
		res.kept = resolveServices(r, p, root, services, base, last, from, res.health)
		res.order, res.index = servicesInOrder(r, members, res.health)
		for name, s := range r.Services {
			if s.Discovery == "registry" {
				res.registry = append(res.registry, name)
			}
		}
	} else {
		// The last load's, but for the services that changed.
		was := make(map[string]bool, len(changed))
		for _, i := range changed {
			was[res.order[i].name] = true
		}
		res.registry = slices.DeleteFunc(slices.Clone(last.registry), func(name string) bool { return was[name] })
		for _, i := range changed {
			if name := res.order[i].name; r.Services[name].Discovery == "registry" {
				res.registry = append(res.registry, name)
			}
		}
	}
	r.registry = &res.registry
	res.services = r.Services

	if p.Configuration.EnableCircuitBreaker {
		settings := breakersOf(r, root)
		res.defaults = intern(r.memo(), "composer.breaker-defaults", p.CircuitBreaker.CircuitBreaker)
		if keep {
			res.breakerBlocks = blockValues(r, root.Key("circuit_breaker"), p.CircuitBreaker.PerTarget)
		}
		for _, er := range p.EventRoutes {
			for _, to := range er.To {
				if svc, _ := EventTarget(to); p.Services[svc] != nil && p.Services[svc].Kind != "builtin" {
					res.events = append(res.events, breakerRef{EventBreaker(svc), svc})
				}
			}
		}
		if patched {
			res.refs, patched = patchBreakers(r, res, last, changed, settings)
		}
		if !patched {
			// A breaker per caller and target; the call targets have
			// one of their own: every http and process service, and
			// every service something calls.
			if keep {
				res.refs = make(map[string]int32, breakersIn(p))
			}
			add := func(ref breakerRef) {
				if keep {
					res.refs[ref.name]++
				}
				r.Breakers[ref.name] = settings(ref.target)
			}
			var refs []breakerRef
			for name, s := range p.Services {
				refs = breakerRefs(name, s, r.Services[name], refs[:0])
				for _, ref := range refs {
					add(ref)
				}
			}
			for _, ref := range res.events {
				add(ref)
			}
		}
		res.breakers = r.Breakers
	}
	if keep {
		keepResolution(r, res)
	}

	for name, er := range p.EventRoutes {
		src := sourceOf(routes, name)
		retry := overlayKeys(p.Events.Retry, er.Retry, sourceOf(src, "retry").Value())
		rr := &ResolvedRoute{Topic: er.Topic, Filter: er.Filter, To: er.To, DeadLetter: er.DeadLetter,
			Retry: events.Retry{Attempts: retry.Attempts, Backoff: retry.Backoff, Max: retry.MaxBackoff},
			Src:   src}
		if rr.DeadLetter == "" {
			rr.DeadLetter = er.Topic + ".dlq"
		}
		rr.compile()
		r.EventRoutes[name] = rr
	}
	return r
}

// serviceKey is a service's key in the memo of resolved services: what
// resolveService reads of the platform for it. Values a load hands out
// again (tsk.Cache) make it equal from one load to the next when neither
// the service's block nor what it inherits changed.
type serviceKey struct {
	name        string
	s           *Service
	src, health *tsk.Value // its block, its block in [health_checks]
	inherited   *inherited
}

// inherited is what every service inherits from the platform, the same
// value (interned in the memo) as long as it does not change.
type inherited struct {
	health      HealthCheck
	authDefault string
	base        string
}

// resolveServices resolves every service: each the last load's when it
// resolved it from the same values (last, or the memo's table), which it
// counts. A built-in is always resolved again: it reads which other
// services exist.
func resolveServices(r *Resolved, p *Platform, root, services Source, base string, last *resolution, from *inherited, health map[string]*tsk.Value) (kept int) {
	table := tsk.TableOf[serviceKey, *ResolvedService](r.memo(), "composer.resolve")
	if last != nil && last.inherited != from {
		last = nil
	}
	for name, s := range p.Services {
		if table == nil || s.Kind == "builtin" {
			r.Services[name] = resolveService(p, root, services, base, name, s)
			continue
		}
		src := sourceOf(services, name)
		canon := r.canonical(src.Value())
		if i, ok := last.place(name); ok {
			if at := &last.order[i]; at.s == s && at.canon == canon && at.health == health[name] {
				r.Services[name] = at.rs.writtenAt(src)
				kept++
				continue
			}
		}
		rs, ok := resolveOne(r, table, services, name, s, canon, health[name], from)
		r.Services[name] = rs
		if ok {
			kept++
		}
	}
	return kept
}

// place is service name's place in the last load's order.
func (last *resolution) place(name string) (int, bool) {
	if last == nil {
		return 0, false
	}
	i, ok := last.index[name]
	return i, ok
}

// servicesInOrder are r's services in file order (nil when the section's
// members are not the services), and their places.
func servicesInOrder(r *Resolved, members []tsk.Member, health map[string]*tsk.Value) ([]serviceAt, map[string]int) {
	p := r.Platform
	if len(members) != len(p.Services) || r.memo() == nil {
		return nil, nil
	}
	order, index := make([]serviceAt, len(members)), make(map[string]int, len(members))
	for i, m := range members {
		s := p.Services[m.Key]
		if s == nil {
			return nil, nil
		}
		order[i] = serviceAt{name: m.Key, src: m.Value, canon: r.canonical(m.Value), health: health[m.Key], s: s, rs: r.Services[m.Key], builtinLike: s.Kind == "builtin"}
		index[m.Key] = i
	}
	return order, index
}

// resolveService is the effective settings of service name.
func resolveService(p *Platform, root, services Source, base, name string, s *Service) *ResolvedService {
	rs := &ResolvedService{Kind: s.Kind, Routes: s.Routes, Calls: s.Calls, Publishes: s.Publishes, DependsOn: s.DependsOn, HashOn: s.HashOn,
		Balancer: s.LoadBalancer, Timeout: s.Timeout, Retries: s.Retries, StripPrefix: s.StripPrefix,
		StartTimeout: s.StartTimeout, Src: sourceOf(services, name)}
	if d := builtins.Lookup(name); s.Kind == "builtin" && d != nil {
		// A built-in's own calls (orders asks users) are declared
		// whether or not the file names them.
		for _, c := range d.Calls {
			if !slices.Contains(rs.Calls, c) && p.Services[c] != nil {
				rs.Calls = append(slices.Clone(rs.Calls), c)
			}
		}
	}
	if rs.Balancer == "" {
		rs.Balancer = "round_robin"
	}
	if rs.StartTimeout <= 0 {
		rs.StartTimeout = DefaultStartTimeout
	}
	rs.Auth = s.Auth
	if rs.Auth == "" && len(s.Routes) > 0 {
		rs.Auth = p.Auth.Default
	}
	if rs.Auth == "none" {
		rs.Auth = ""
	}
	if s.RateLimit.Requests > 0 {
		rl := ratelimit.Settings{Requests: s.RateLimit.Requests, Per: s.RateLimit.Per, Burst: s.RateLimit.Burst, Key: s.RateLimit.Key}
		rs.RateLimit = rl.WithDefaults()
	}
	if rs.Src.Has("cors") {
		c := CORSDefaults
		c.AllowOrigins, c.AllowHeaders, c.ExposeHeaders, c.AllowCredentials = s.CORS.AllowOrigins, s.CORS.AllowHeaders, s.CORS.ExposeHeaders, s.CORS.AllowCredentials
		if s.CORS.AllowMethods != nil {
			c.AllowMethods = s.CORS.AllowMethods
		}
		if rs.Src.Key("cors").Has("max_age") {
			c.MaxAge = s.CORS.MaxAge
		}
		rs.CORS = &c
	}
	if len(s.RequestHeaders.Set)+len(s.RequestHeaders.Remove) > 0 {
		rs.RequestHeaders = &gateway.HeaderRules{Set: s.RequestHeaders.Set, Remove: s.RequestHeaders.Remove}
	}
	if len(s.ResponseHeaders.Set)+len(s.ResponseHeaders.Remove) > 0 {
		rs.ResponseHeaders = &gateway.HeaderRules{Set: s.ResponseHeaders.Set, Remove: s.ResponseHeaders.Remove}
	}
	rs.PathRewrite = s.PathRewrite
	if m := p.Notifications.SMTP; name == "notifications" && s.Kind == "builtin" && m.Host != "" {
		rs.SMTP = &SMTPSettings{Host: m.Host, Port: m.Port, Username: m.Username, Password: string(m.Password), From: m.From,
			StartTLS: m.StartTLS, Timeout: m.Timeout}
		if m.Password != "" {
			sum := sha256.Sum256([]byte(m.Password))
			rs.SMTP.PasswordDigest = hex.EncodeToString(sum[:8])
		}
	}
	rs.Protocol = s.Protocol
	if rs.Protocol == "" {
		rs.Protocol = "http"
	}
	if rs.Protocol == "grpc" {
		g := gateway.GRPCDefaults
		if s.FailureCodes != nil {
			g.FailureCodes = lowerAll(s.FailureCodes)
		}
		if s.RetryOn != nil {
			g.RetryOn = lowerAll(s.RetryOn)
		}
		g.StreamTimeout = s.StreamTimeout
		rs.GRPC = &g
	}
	rs.Retry, rs.Deadline, rs.MaxBodySize, rs.StreamIdleTimeout = resolveRetry(s, rs.Src), s.Deadline, s.MaxBodySize, s.StreamIdleTimeout
	if rs.MaxBodySize <= 0 {
		rs.MaxBodySize = gateway.DefaultMaxBodySize
	}
	if s.Kind == "http" || s.Kind == "process" {
		rs.Outlier = resolveOutlier(p, root, name)
	}
	switch s.Kind {
	case "http":
		rs.Instances, rs.Weights = s.Instances.URLs, s.Instances.Weights
		if s.Discovery == "registry" {
			rs.Discovery = "registry"
		}
		rs.Health = resolveHealth(p, root, name)
	case "process":
		if len(s.Routes) > 0 || s.HealthEndpoint != "" {
			rs.Health = resolveHealth(p, root, name)
		}
		dir := base
		if s.Dir != "" {
			dir = absUnder(base, s.Dir)
		}
		spec := &ProcessSpec{Command: s.Command, Shell: s.Shell, Dir: dir, Env: s.Env, Port: s.Port,
			Copies: max(s.Instances.Count, 1), Calls: slices.Sorted(slices.Values(s.Calls)), Restart: s.Restart, MaxRestarts: s.MaxRestarts,
			RestartBackoff: s.RestartBackoff, StopSignal: strings.ToUpper(s.StopSignal), StopTimeout: s.StopTimeout}
		if spec.Restart == "" {
			spec.Restart = "on-failure"
		}
		if spec.StopSignal == "" {
			spec.StopSignal = "SIGTERM"
		}
		rs.Process = spec
	}
	rs.pairs = make([]string, len(rs.Calls))
	for i, target := range rs.Calls {
		rs.pairs[i] = PairBreaker(name, target)
	}
	return rs
}

// compile compiles the route's filter; one that does not compile is left
// nil (Validate reports it).
func (rr *ResolvedRoute) compile() {
	rr.Match = nil
	if rr.Filter == "" {
		return
	}
	if f, err := eventfilter.Compile(rr.Filter); err == nil {
		rr.Match = f.Match
	}
}

// Compile recompiles what the JSON form of a Resolved leaves out (the
// event routes' filters). Call it after decoding one.
func (r *Resolved) Compile() {
	for _, rr := range r.EventRoutes {
		rr.compile()
	}
}

// resolveRetry is a service's retry settings over gateway.RetryDefaults;
// the budget's keys may be set to 0.
func resolveRetry(s *Service, src Source) gateway.Retry {
	r := gateway.RetryDefaults
	if s.RetryBackoff > 0 {
		r.Backoff = s.RetryBackoff
	}
	if s.MaxRetryBackoff > 0 {
		r.MaxBackoff = s.MaxRetryBackoff
	}
	if s.RetryBodyLimit > 0 {
		r.BodyLimit = s.RetryBodyLimit
	}
	budget := src.Key("retry_budget")
	if src.Has("retry_budget") && budget.Has("ratio") || s.RetryBudget.Ratio > 0 {
		r.BudgetRatio = s.RetryBudget.Ratio
	}
	if src.Has("retry_budget") && budget.Has("min_per_second") || s.RetryBudget.MinPerSecond > 0 {
		r.BudgetMinPerSecond = s.RetryBudget.MinPerSecond
	}
	return r
}

// resolveOutlier is a service's outlier ejection: the section's, then the
// keys its own block's outlier_detection sets.
func resolveOutlier(p *Platform, root Source, name string) balancer.Outlier {
	o := p.HealthChecks.OutlierDetection
	if over, ok := p.HealthChecks.PerService[name]; ok {
		block := sourceOf(sourceOf(root.Key("health_checks"), name), "outlier_detection")
		o = overlayKeys(o, over.OutlierDetection, block.Value())
	}
	return balancer.Outlier{ConsecutiveFailures: o.ConsecutiveFailures, BaseEjectionTime: o.BaseEjectionTime,
		MaxEjectionTime: o.MaxEjectionTime, MaxEjectionPercent: o.MaxEjectionPercent}
}

// resolveHealth is the effective health checks of a service: the
// section's defaults, its block in [health_checks], its health_endpoint.
func resolveHealth(p *Platform, root Source, name string) *health.Settings {
	hc := p.HealthChecks.HealthCheck
	if over, ok := p.HealthChecks.PerService[name]; ok {
		hc = overlayKeys(hc, over, sourceOf(root.Key("health_checks"), name).Value())
	}
	if s := p.Services[name]; s != nil && s.HealthEndpoint != "" {
		hc.Path = s.HealthEndpoint
	}
	out := &health.Settings{Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries,
		HealthyThreshold: hc.HealthyThreshold, Path: hc.Path, StartInterval: hc.StartInterval, StartPeriod: hc.StartPeriod,
		Protocol: hc.Protocol, GRPCService: hc.GRPCService}
	if out.Protocol == "" {
		out.Protocol = "http"
		if s := p.Services[name]; s != nil && s.Protocol == "grpc" {
			out.Protocol = "grpc"
		}
	}
	return out
}

// breakerSettings are a [circuit_breaker] block's settings for the breaker package.
func breakerSettings(cfg CircuitBreaker) breaker.Settings {
	return breaker.Settings{
		FailureThreshold: int(cfg.FailureThreshold), FailureRatio: cfg.FailureRatio, Window: cfg.Window,
		MinimumRequests: cfg.MinimumRequests, RecoveryTimeout: time.Duration(cfg.RecoveryTimeout),
		HalfOpenMaxRequests: cfg.HalfOpenMaxRequests, NoHalfOpen: !cfg.HalfOpenState,
		SlowCallDuration: cfg.SlowCallDuration, SlowCallRatio: cfg.SlowCallRatio,
	}
}

// EventTarget splits an event route target that names a service
// ("billing", "billing/hooks/order") into the service and the path ("" for
// none); a URL gives "", "".
func EventTarget(to string) (service, path string) {
	if strings.Contains(to, "://") {
		return "", ""
	}
	service, rest, found := strings.Cut(to, "/")
	if found {
		path = "/" + rest
	}
	return service, path
}

// SameSettings reports whether a and b hold the same settings: one
// value, or two made as the one value a memo kept (they differ in Src
// only, where the text is now). Nil is the same as nil only.
func SameSettings(a, b *ResolvedService) bool {
	return a == b || a != nil && b != nil && a.origin != nil && a.origin == b.origin
}

// PairBreaker is the name of the breaker of a process's calls to a
// service through the mesh: "orders->users".
func PairBreaker(caller, target string) string { return caller + "->" + target }

// EnvName is the stem of the environment variables that give a process
// a service's upstream address: COMPOSER_<TARGET>, the name upper-cased,
// every character other than a letter or a digit turned into _.
func EnvName(target string) string {
	b := []byte("COMPOSER_" + strings.ToUpper(target))
	for i := len("COMPOSER_"); i < len(b); i++ {
		if c := b[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// EventBreaker is the name of the breaker of the deliveries of events to
// a service: "events->billing".
func EventBreaker(service string) string { return "events->" + service }

// breakerKey is a target's key in the memo of breaker settings: the
// section's settings (interned) and the target's block.
type breakerKey struct {
	defaults *CircuitBreaker
	src      *tsk.Value
}

// breakersIn is about how many breakers p has (the room their map is
// made with): one per service and one per call.
func breakersIn(p *Platform) int {
	if !p.Configuration.EnableCircuitBreaker {
		return 0
	}
	n := len(p.Services)
	for _, s := range p.Services {
		n += len(s.Calls)
	}
	return n
}

// breakersOf returns the breaker settings of a call target: the
// section's, then the keys its own block sets. Each target's are made
// once, or taken from the memo when the last load made them from the
// same block.
func breakersOf(r *Resolved, root Source) func(target string) breaker.Settings {
	p, canonical := r.Platform, r.canonical
	table := tsk.TableOf[breakerKey, breaker.Settings](r.memo(), "composer.breakers")
	cfg := p.CircuitBreaker.CircuitBreaker
	defaults := intern(r.memo(), "composer.breaker-defaults", cfg)
	made := make(map[string]breaker.Settings, len(p.Services))
	section := root.Key("circuit_breaker")
	return func(target string) breaker.Settings {
		if b, ok := made[target]; ok {
			return b
		}
		over, ok := p.CircuitBreaker.PerTarget[target]
		if !ok {
			b := breakerSettings(cfg)
			made[target] = b
			return b
		}
		// The block's decoded settings are the decoding's of its value:
		// the value is the key.
		src := sourceOf(section, target).Value()
		k := breakerKey{defaults: defaults, src: canonical(src)}
		b, ok := table.Get(k)
		if !ok || k.src == nil {
			b = breakerSettings(overlayKeys(cfg, over, src))
			if k.src != nil {
				table.Put(k, b)
			}
		}
		made[target] = b
		return b
	}
}

// overlayKeys returns def with the fields that block sets taken from
// over: a per-target or per-service block names only what differs from
// the section's defaults, and may set false or 0. Without the block's
// source (a platform not read from a file), the fields over sets to a
// non-zero value are taken.
func overlayKeys[T any](def, over T, block *tsk.Value) T {
	out := def
	ov, dv := reflect.ValueOf(&over).Elem(), reflect.ValueOf(&out).Elem()
	t := ov.Type()
	if block == nil || block.Kind != tsk.Object {
		for i := range ov.NumField() {
			if f := ov.Field(i); !f.IsZero() {
				dv.Field(i).Set(f)
			}
		}
		return out
	}
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("tsk"), ",")
		if key != "" && block.Obj.Get(key) != nil {
			dv.Field(i).Set(ov.Field(i))
		}
	}
	return out
}

// sourceOf is the source of key in a block, the zero Source when the
// block does not set it.
func sourceOf(block Source, key string) Source {
	if block.Has(key) {
		return block.Key(key)
	}
	return Source{}
}

// resolveAuth is a policy over auth.Defaults, its files absolute and its
// secrets stood for by a digest.
func resolveAuth(a AuthPolicy, src Source, base string) auth.Settings {
	out := auth.Defaults
	out.Kind, out.Secret, out.Issuer, out.Audience, out.Algorithms, out.ForwardClaims, out.Query =
		a.Kind, string(a.Secret), a.Issuer, a.Audience, a.Algorithms, a.ForwardClaims, a.Query
	if src.Has("leeway") || a.Leeway > 0 {
		out.Leeway = a.Leeway
	}
	if a.Header != "" {
		out.Header = a.Header
	}
	if a.JWKSFile != "" {
		out.JWKSFile = absUnder(base, a.JWKSFile)
	}
	out.JWKSURL = a.JWKSURL
	if a.JWKSRefresh > 0 {
		out.JWKSRefresh = a.JWKSRefresh
	}
	if a.KeysFile != "" {
		out.KeysFile = absUnder(base, a.KeysFile)
	}
	h := sha256.New()
	h.Write([]byte(a.Secret))
	for _, k := range a.Keys {
		out.Keys = append(out.Keys, string(k))
		h.Write([]byte{0})
		h.Write([]byte(k))
	}
	if a.Secret != "" || len(a.Keys) > 0 {
		out.Digest = hex.EncodeToString(h.Sum(nil)[:8])
	}
	return out
}

// SplitRoute splits a route into the host it names ("" for every host)
// and its path: "api.example.com/users/:id" is "api.example.com" and
// "/users/:id". The host is lower-cased.
func SplitRoute(route string) (host, path string) {
	if strings.HasPrefix(route, "/") {
		return "", route
	}
	host, rest, ok := strings.Cut(route, "/")
	if !ok {
		return strings.ToLower(route), ""
	}
	return strings.ToLower(host), "/" + rest
}

// WithRegistered returns r with the registered instances of its registry
// services (by service, their URLs) in place of those it had: the file's
// instances, then the registered ones, weight 1. r is not changed.
func (r *Resolved) WithRegistered(registered map[string][]string) *Resolved {
	same := true
	r.eachRegistry(func(name string, s *ResolvedService) {
		same = same && (s.Discovery != "registry" || slices.Equal(registered[name], s.Registered))
	})
	if same {
		return r
	}
	out := *r
	out.registered, out.res = true, nil
	out.Services = maps.Clone(r.Services)
	r.eachRegistry(func(name string, s *ResolvedService) {
		if s.Discovery != "registry" {
			return
		}
		want := registered[name]
		if slices.Equal(want, s.Registered) {
			return
		}
		c := *s
		c.Instances, c.Weights, c.Registered = nil, nil, nil
		c.origin = nil // no longer what the file resolves to
		for i, u := range s.Instances {
			if slices.Contains(s.Registered, u) {
				continue
			}
			c.Instances = append(c.Instances, u)
			if s.Weights != nil {
				c.Weights = append(c.Weights, s.Weights[i])
			}
		}
		for _, u := range want {
			if slices.Contains(c.Instances, u) {
				continue // the file has it already
			}
			c.Instances = append(c.Instances, u)
			c.Registered = append(c.Registered, u)
			if c.Weights != nil {
				c.Weights = append(c.Weights, 1)
			}
		}
		out.Services[name] = &c
	})
	return &out
}

// RegisteredURLs are the registered instances of r's registry services.
func (r *Resolved) RegisteredURLs() map[string][]string {
	out := map[string][]string{}
	r.eachRegistry(func(name string, s *ResolvedService) {
		if len(s.Registered) > 0 {
			out[name] = s.Registered
		}
	})
	return out
}

// lowerAll is names in lower case.
func lowerAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// absUnder is path made absolute relative to base.
func absUnder(base, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(base, path)
}
