// Package composer is the platform model, pure (no sockets, no
// goroutines): it reads a platform file (platform.tsk) into a Platform
// (the services, routes, circuit breakers, health checks and event routes
// it declares), validates it, resolves it into every component's
// effective settings (Resolve), and says what a reload from one resolved
// platform to another does (Diff). The section and key names are the
// contract that platform files rely on (see
// examples/reference/platform.tsk); every unknown section or key, wrong
// type and bad duration is a diagnostic with its FILE:LINE:COL.
package composer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/kafkabus"
	"github.com/tuskcompose/composer/tsk"
)

// Platform is a decoded platform file.
type Platform struct {
	// The seed's switches. Each is honoured or reported by validation.
	Architecture  Architecture        `tsk:"microservices_architecture"`
	Configuration Configuration       `tsk:"microservices_configuration"`
	Communication Communication       `tsk:"service_communication"`
	EventDriven   EventDrivenSwitches `tsk:"event_driven_architecture"`
	Components    map[string]string   `tsk:"microservices_components"`

	Composer       Settings              `tsk:"composer"`
	Mesh           Mesh                  `tsk:"mesh"`
	Services       map[string]*Service   `tsk:"services"`
	HealthChecks   HealthChecks          `tsk:"health_checks"`
	CircuitBreaker CircuitBreakers       `tsk:"circuit_breaker"`
	Events         Events                `tsk:"events"`
	EventRoutes    map[string]EventRoute `tsk:"event_routes"`
	Auth           Auth                  `tsk:"auth"`
	Notifications  NotificationsSection  `tsk:"notifications"`
}

// NotificationsSection is [notifications]: how the built-in
// notifications service sends.
type NotificationsSection struct {
	SMTP SMTPBlock `tsk:"smtp"`
}

// SMTPBlock is [notifications] smtp { ... }.
type SMTPBlock struct {
	Host     string        `tsk:"host"`
	Port     int           `tsk:"port"`
	Username string        `tsk:"username"`
	Password Secret        `tsk:"password"`
	From     string        `tsk:"from"`
	StartTLS bool          `tsk:"starttls"`
	Timeout  time.Duration `tsk:"timeout"`
}

// Auth is [auth]: named policies that services refer to with `auth`,
// and the default of the services that name none.
type Auth struct {
	// Default is the policy of every service with routes that sets no
	// auth of its own ("": none).
	Default  string                `tsk:"default"`
	Policies map[string]AuthPolicy `tsk:",rest"`
}

// AuthPolicy is one block of [auth].
type AuthPolicy struct {
	Kind string `tsk:"kind,required"` // jwt | api_key
	// jwt: HS256 with secret, or the keys of a JWKS file.
	Secret        Secret            `tsk:"secret"`
	JWKSFile      string            `tsk:"jwks_file"`
	JWKSURL       string            `tsk:"jwks_url"`
	JWKSRefresh   time.Duration     `tsk:"jwks_refresh"`
	Issuer        string            `tsk:"issuer"`
	Audience      string            `tsk:"audience"`
	Leeway        time.Duration     `tsk:"leeway"`
	Algorithms    []string          `tsk:"algorithms"`
	ForwardClaims map[string]string `tsk:"forward_claims"`
	// api_key: keys (give them with @env) or a file of keys.
	Keys     []Secret `tsk:"keys"`
	KeysFile string   `tsk:"keys_file"`
	Header   string   `tsk:"header"`
	Query    string   `tsk:"query"`
}

// CORS is a service's `cors { ... }`.
type CORS struct {
	AllowOrigins     []string      `tsk:"allow_origins"`
	AllowMethods     []string      `tsk:"allow_methods"`
	AllowHeaders     []string      `tsk:"allow_headers"`
	ExposeHeaders    []string      `tsk:"expose_headers"`
	AllowCredentials bool          `tsk:"allow_credentials"`
	MaxAge           time.Duration `tsk:"max_age"`
}

// HeaderRules are `request_headers { set { NAME: VALUE }, remove [NAME] }`.
type HeaderRules struct {
	Set    map[string]string `tsk:"set"`
	Remove []string          `tsk:"remove"`
}

// RateLimit is a service's `rate_limit { requests, per, burst, key }`.
type RateLimit struct {
	Requests int           `tsk:"requests"`
	Per      time.Duration `tsk:"per"`
	Burst    int           `tsk:"burst"`
	Key      string        `tsk:"key"` // client_ip (default) | header:NAME | jwt:CLAIM | api_key
}

// Architecture is [microservices_architecture].
type Architecture struct {
	ServiceMesh        bool `tsk:"service_mesh"`
	APIGateway         bool `tsk:"api_gateway"`
	EventDriven        bool `tsk:"event_driven"`
	DistributedTracing bool `tsk:"distributed_tracing"`
}

// Configuration is [microservices_configuration].
type Configuration struct {
	EnableServiceMesh        bool `tsk:"enable_service_mesh"`
	EnableCircuitBreaker     bool `tsk:"enable_circuit_breaker"`
	EnableDistributedTracing bool `tsk:"enable_distributed_tracing"`
	EnableMetrics            bool `tsk:"enable_metrics"`
}

// Communication is [service_communication].
type Communication struct {
	GRPC           bool `tsk:"grpc"`
	HTTP           bool `tsk:"http"`
	MessageQueue   bool `tsk:"message_queue"`
	EventStreaming bool `tsk:"event_streaming"`
}

// EventDrivenSwitches is [event_driven_architecture].
type EventDrivenSwitches struct {
	EventPublishing  bool `tsk:"event_publishing"`
	EventConsumption bool `tsk:"event_consumption"`
	EventSourcing    bool `tsk:"event_sourcing"`
	CQRS             bool `tsk:"cqrs"`
}

// Mesh is [mesh]: the shared listener where callers the composer does
// not start (http services, code elsewhere on the machine) reach the
// services: the first path segment names the target, the header
// X-Composer-Caller the caller.
type Mesh struct {
	Listen string `tsk:"listen"` // default 127.0.0.1:0 (a free loopback port, in /v1/mesh)
	Strict bool   `tsk:"strict"` // default true: a call `calls` does not declare gets 403
}

// Settings is [composer].
type Settings struct {
	Name   string `tsk:"name"`
	Listen string `tsk:"listen"`
	Admin  string `tsk:"admin"`
	// AdminToken, when set, is the bearer token every admin request
	// needs (give it with @env); without one, admin must be loopback.
	AdminToken Secret `tsk:"admin_token"`
	DataDir    string `tsk:"data_dir"`
	// OTLPEndpoint is where traces go (OTLP over HTTP, host:port or URL);
	// the OTEL_EXPORTER_OTLP_* variables work too. Neither: no tracing.
	OTLPEndpoint string `tsk:"otlp_endpoint"`
	// DrainTimeout bounds how long a retired generation's requests and
	// upgraded connections may go on after a reload or a stop, and the
	// deliveries under way of an event route a reload replaced.
	DrainTimeout time.Duration `tsk:"drain_timeout"`
	// TLS serves the gateway over HTTPS.
	TLS TLS `tsk:"tls"`
	// TrustedProxies are the addresses or CIDR ranges of the proxies in
	// front of the gateway: only from them is X-Forwarded-For believed
	// (for rate limits keyed by client_ip).
	TrustedProxies []string `tsk:"trusted_proxies"`
}

// TLS is [composer] tls { ... }: the gateway's certificates.
type TLS struct {
	CertFile string `tsk:"cert_file"`
	KeyFile  string `tsk:"key_file"`
	// Certificates are more certificates, each for its hosts (SNI).
	Certificates []Certificate `tsk:"certificates"`
	// RedirectHTTP is a plain HTTP address that answers every request
	// with a redirect to the same URL over HTTPS.
	RedirectHTTP string `tsk:"redirect_http"`
}

// Certificate is one of tls { certificates: [...] }.
type Certificate struct {
	Hosts    []string `tsk:"hosts,required"`
	CertFile string   `tsk:"cert_file,required"`
	KeyFile  string   `tsk:"key_file,required"`
}

// Service is one block of [services].
type Service struct {
	Kind           string       `tsk:"kind,required"` // builtin | http | process
	Routes         []string     `tsk:"routes"`
	HealthEndpoint string       `tsk:"health_endpoint"`
	Calls          []string     `tsk:"calls"`
	Publishes      []string     `tsk:"publishes"` // the event types a process may publish at COMPOSER_EVENTS_URL
	DependsOn      Dependencies `tsk:"depends_on"`
	Instances      Instances    `tsk:"instances"`
	LoadBalancer   string       `tsk:"load_balancer"`
	HashOn         string       `tsk:"hash_on"` // consistent_hash: header:NAME, cookie:NAME or client_ip
	// Discovery is where an http service's instances come from: "file"
	// (the default: instances) or "registry" (also the instances that
	// register at run time, Consul's API on the admin address).
	Discovery      string            `tsk:"discovery"`
	Protocol       string            `tsk:"protocol"` // http (default) | h2c | grpc: how the instances are spoken to
	Timeout        time.Duration     `tsk:"timeout"`
	Retries        int               `tsk:"retries"`
	StripPrefix    bool              `tsk:"strip_prefix"`
	Command        []string          `tsk:"command"`
	Shell          bool              `tsk:"shell"` // run command as one /bin/sh -c script
	Dir            string            `tsk:"dir"`
	Env            map[string]string `tsk:"env"`
	Port           int               `tsk:"port"`
	Restart        string            `tsk:"restart"`
	MaxRestarts    int               `tsk:"max_restarts"`
	RestartBackoff time.Duration     `tsk:"restart_backoff"`
	StopSignal     string            `tsk:"stop_signal"`
	StopTimeout    time.Duration     `tsk:"stop_timeout"`
	StartTimeout   time.Duration     `tsk:"start_timeout"` // how long dependents wait for it

	// The request path (http and process services).
	RetryBackoff    time.Duration `tsk:"retry_backoff"`
	MaxRetryBackoff time.Duration `tsk:"max_retry_backoff"`
	RetryBudget     RetryBudget   `tsk:"retry_budget"`
	RetryBodyLimit  int64         `tsk:"retry_body_limit"` // bytes
	Deadline        time.Duration `tsk:"deadline"`         // across all tries
	MaxBodySize     int64         `tsk:"max_body_size"`    // bytes of a request body
	// StreamIdleTimeout closes an answer that stays silent that long.
	StreamIdleTimeout time.Duration `tsk:"stream_idle_timeout"`

	// gRPC (protocol "grpc"): which status codes are failures and which
	// are tried again (names such as "unavailable"), and the longest a
	// call may live, streams included.
	// Auth names the [auth] policy of the service's routes ("none": no
	// policy, not even [auth] default); RateLimit bounds how often each
	// client may call them.
	Auth      string    `tsk:"auth"`
	RateLimit RateLimit `tsk:"rate_limit"`
	// CORS answers browsers' preflights for the service's routes and
	// marks its answers for the origins it allows.
	CORS CORS `tsk:"cors"`
	// RequestHeaders and ResponseHeaders are set and removed on the way
	// to the instance and back.
	RequestHeaders  HeaderRules `tsk:"request_headers"`
	ResponseHeaders HeaderRules `tsk:"response_headers"`
	// PathRewrite replaces the route's static prefix before forwarding
	// (strip_prefix is path_rewrite: "/").
	PathRewrite string `tsk:"path_rewrite"`

	FailureCodes  []string      `tsk:"failure_codes"`
	RetryOn       []string      `tsk:"retry_on"`
	StreamTimeout time.Duration `tsk:"stream_timeout"`
}

// RetryBudget is `retry_budget { ratio, min_per_second }`: retries over
// the last 10 s stay under ratio × the requests plus min_per_second a
// second.
type RetryBudget struct {
	Ratio        float64 `tsk:"ratio"`
	MinPerSecond int     `tsk:"min_per_second"`
}

// Instances is `instances`: the URLs of an http service's instances
// (each a string, or a block { url, weight }), or how many copies of a
// process service run.
type Instances struct {
	URLs []string
	// Weights are the instances' weights (Weights[i] is URLs[i]'s); nil
	// when no instance names one (all 1).
	Weights []int
	Count   int
}

// UnmarshalTSK implements tsk.Unmarshaler: a list of strings or a count.
func (in *Instances) UnmarshalTSK(v *tsk.Value) error {
	switch v.Kind {
	case tsk.Int:
		if v.Int < 1 || v.Int > 64 {
			return fmt.Errorf("expected 1 to 64 copies, got %d", v.Int)
		}
		*in = Instances{Count: int(v.Int)}
		return nil
	case tsk.Array:
		out := Instances{URLs: make([]string, len(v.List))}
		for i, e := range v.List {
			switch e.Kind {
			case tsk.String:
				out.URLs[i] = e.Str
				continue
			case tsk.Object:
				u, w := e.Obj.Get("url"), e.Obj.Get("weight")
				for _, k := range e.Obj.Keys() {
					if k != "url" && k != "weight" {
						return fmt.Errorf("instance %d: unknown key %q (an instance is { url, weight })%s", i, k, suggest(k, []string{"url", "weight"}))
					}
				}
				if u == nil || u.Kind != tsk.String {
					return fmt.Errorf(`instance %d: expected { url: "http://...", weight: N }, with a url`, i)
				}
				out.URLs[i] = u.Str
				if w != nil {
					if w.Kind != tsk.Int || w.Int < 1 || w.Int > 1000 {
						return fmt.Errorf("instance %d: weight is a whole number from 1 to 1000, got %s", i, w.Describe())
					}
					if out.Weights == nil {
						out.Weights = make([]int, len(v.List))
						for j := range out.Weights {
							out.Weights[j] = 1
						}
					}
					out.Weights[i] = int(w.Int)
				}
				continue
			}
			return fmt.Errorf("expected a list of URLs or { url, weight } blocks, got %s at %d", e.Describe(), i)
		}
		*in = out
		return nil
	}
	return fmt.Errorf(`expected a list of URLs (["http://127.0.0.1:7001"]) or a number of copies, got %s`, v.Describe())
}

// MarshalJSON writes the URLs, or the count.
func (in Instances) MarshalJSON() ([]byte, error) {
	if in.URLs == nil && in.Count > 0 {
		return json.Marshal(in.Count)
	}
	return json.Marshal(in.URLs)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (in *Instances) UnmarshalJSON(b []byte) error {
	*in = Instances{}
	if len(b) > 0 && b[0] != '[' && b[0] != 'n' {
		return json.Unmarshal(b, &in.Count)
	}
	return json.Unmarshal(b, &in.URLs)
}

// Dependency is one entry of depends_on: a service, and what of it the
// dependent waits for.
type Dependency struct {
	Service   string `json:"service"`
	Condition string `json:"condition"` // started | healthy | completed
}

// Dependencies is `depends_on`: a list of services (each healthy), or a
// block of service: condition.
type Dependencies []Dependency

// Names returns the services depended on.
func (ds Dependencies) Names() []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Service
	}
	return out
}

// UnmarshalTSK implements tsk.Unmarshaler.
func (ds *Dependencies) UnmarshalTSK(v *tsk.Value) error {
	var out Dependencies
	switch v.Kind {
	case tsk.Array:
		for i, e := range v.List {
			if e.Kind != tsk.String {
				return fmt.Errorf("expected a list of services, got %s at %d", e.Describe(), i)
			}
			out = append(out, Dependency{Service: e.Str, Condition: "healthy"})
		}
	case tsk.Object:
		for _, m := range v.Obj.Members() {
			if m.Value.Kind != tsk.String {
				return fmt.Errorf(`%s: expected a condition ("started", "healthy" or "completed"), got %s`, m.Key, m.Value.Describe())
			}
			out = append(out, Dependency{Service: m.Key, Condition: m.Value.Str})
		}
	default:
		return fmt.Errorf(`expected a list of services or a block of service: "condition", got %s`, v.Describe())
	}
	*ds = out
	return nil
}

// HealthCheck holds the settings of active health checks.
type HealthCheck struct {
	Interval         time.Duration `tsk:"interval"`
	Timeout          time.Duration `tsk:"timeout"`
	Retries          int           `tsk:"retries"` // consecutive failures before unhealthy (the seed's field)
	HealthyThreshold int           `tsk:"healthy_threshold"`
	Path             string        `tsk:"path"`
	// StartInterval is the time between probes of an instance that has
	// not passed one yet (a process starting), as compose's start_interval.
	StartInterval time.Duration `tsk:"start_interval"`
	// StartPeriod is how long start_interval applies to an instance that
	// has not passed yet (compose's start_period).
	StartPeriod time.Duration `tsk:"start_period"`
	// Protocol is how instances are probed: "http" or "grpc" (the
	// service's own protocol when unset); GRPCService is the name a gRPC
	// probe asks about ("" for the whole server).
	Protocol    string `tsk:"protocol"`
	GRPCService string `tsk:"grpc_service"`
	// OutlierDetection ejects instances whose real requests fail.
	OutlierDetection OutlierDetection `tsk:"outlier_detection"`
}

// OutlierDetection is `outlier_detection { ... }` in [health_checks]:
// passive health, from the real requests (Envoy's outlier detection).
type OutlierDetection struct {
	ConsecutiveFailures int           `tsk:"consecutive_failures"` // 0: off
	BaseEjectionTime    time.Duration `tsk:"base_ejection_time"`
	MaxEjectionTime     time.Duration `tsk:"max_ejection_time"`
	MaxEjectionPercent  int           `tsk:"max_ejection_percent"`
}

// HealthChecks is [health_checks]: defaults, then per-service blocks.
type HealthChecks struct {
	HealthCheck
	PerService map[string]HealthCheck `tsk:",rest"`
}

// CircuitBreaker holds the settings of a circuit breaker.
type CircuitBreaker struct {
	FailureThreshold    SeedCount     `tsk:"failure_threshold"`
	RecoveryTimeout     SeedDuration  `tsk:"recovery_timeout"`
	HalfOpenState       bool          `tsk:"half_open_state"`
	HalfOpenMaxRequests int           `tsk:"half_open_max_requests"`
	FailureRatio        float64       `tsk:"failure_ratio"`
	Window              time.Duration `tsk:"window"`
	MinimumRequests     int           `tsk:"minimum_requests"`
	SlowCallDuration    time.Duration `tsk:"slow_call_duration"` // a call this long or longer is slow
	SlowCallRatio       float64       `tsk:"slow_call_ratio"`    // slow calls / requests over window that open the breaker
}

// CircuitBreakers is [circuit_breaker]: defaults, then per-target blocks.
type CircuitBreakers struct {
	CircuitBreaker
	PerTarget map[string]CircuitBreaker `tsk:",rest"`
}

// Events is [events]: the bus, and the defaults of every event route.
type Events struct {
	Bus       string        `tsk:"bus"` // embedded | kafka
	Brokers   []string      `tsk:"brokers"`
	ClientID  string        `tsk:"client_id"` // default: [composer] name
	TLS       KafkaTLS      `tsk:"tls"`
	SASL      KafkaSASL     `tsk:"sasl"`
	Topics    KafkaTopics   `tsk:"topics"`
	BatchSize int           `tsk:"batch_size"`
	Linger    time.Duration `tsk:"linger"`
	Retry     Retry         `tsk:"retry"`
}

// KafkaTLS is [events] tls { ... }: TLS to the brokers.
type KafkaTLS struct {
	Enabled            bool   `tsk:"enabled"`
	CAFile             string `tsk:"ca_file"`
	CertFile           string `tsk:"cert_file"`
	KeyFile            string `tsk:"key_file"`
	ServerName         string `tsk:"server_name"`
	InsecureSkipVerify bool   `tsk:"insecure_skip_verify"`
}

// KafkaSASL is [events] sasl { ... }: authentication to the brokers.
type KafkaSASL struct {
	Mechanism string `tsk:"mechanism"` // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	Username  string `tsk:"username"`
	Password  Secret `tsk:"password"`
}

// Secret is a setting never shown: the admin API and plans print it as
// "[secret]".
type Secret string

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte(`""`), nil
	}
	return []byte(`"[secret]"`), nil
}

// KafkaTopics is [events] topics { ... }: the creation of the topics the
// platform uses.
type KafkaTopics struct {
	AutoCreate        bool `tsk:"auto_create"`
	Partitions        int  `tsk:"partitions"`
	ReplicationFactor int  `tsk:"replication_factor"`
}

// Retry is how an event route tries a failing delivery before it
// dead-letters the event.
type Retry struct {
	Attempts   int           `tsk:"attempts"`
	Backoff    time.Duration `tsk:"backoff"`
	MaxBackoff time.Duration `tsk:"max_backoff"`
}

// EventRoute is one block of [event_routes].
type EventRoute struct {
	Topic      string   `tsk:"topic,required"`
	Filter     string   `tsk:"filter"`
	To         []string `tsk:"to,required"`
	Retry      Retry    `tsk:"retry"`       // overrides [events] retry
	DeadLetter string   `tsk:"dead_letter"` // default: <topic>.dlq
}

// The seed's defaults, which `true` stands for in [circuit_breaker]: the
// breaker package's defaults.
var (
	SeedFailureThreshold = breaker.Defaults.FailureThreshold
	SeedRecoveryTimeout  = breaker.Defaults.RecoveryTimeout
)

// SeedCount is a count where `true` means the seed's default
// (SeedFailureThreshold) and `false` is not allowed.
type SeedCount int

// UnmarshalTSK implements tsk.Unmarshaler.
func (c *SeedCount) UnmarshalTSK(v *tsk.Value) error {
	switch {
	case v.Kind == tsk.Bool && v.Bool:
		*c = SeedCount(SeedFailureThreshold)
	case v.Kind == tsk.Int && v.Int > 0:
		*c = SeedCount(v.Int)
	default:
		return fmt.Errorf("expected a positive count or true (the default, %d), got %s", SeedFailureThreshold, v.Describe())
	}
	return nil
}

// SeedDuration is a duration where `true` means the seed's default
// (SeedRecoveryTimeout).
type SeedDuration time.Duration

// UnmarshalTSK implements tsk.Unmarshaler.
func (d *SeedDuration) UnmarshalTSK(v *tsk.Value) error {
	switch {
	case v.Kind == tsk.Bool && v.Bool:
		*d = SeedDuration(SeedRecoveryTimeout)
		return nil
	case v.Kind == tsk.String:
		parsed, err := time.ParseDuration(v.Str)
		if err == nil && parsed > 0 {
			*d = SeedDuration(parsed)
			return nil
		}
	}
	return fmt.Errorf(`expected a duration such as "30s" or true (the default, %s), got %s`, SeedRecoveryTimeout, v.Describe())
}

// Load reads, decodes, resolves and validates a platform file. The
// returned document lists the files the platform was built from, also
// when there are errors. The error is a tsk.Diagnostics.
func Load(l *tsk.Loader, path string) (*Platform, *tsk.Document, error) {
	r, doc, err := LoadResolved(l, path)
	if err != nil {
		return nil, doc, err
	}
	return r.Platform, doc, nil
}

// LoadResolved loads a platform file into its resolved platform, which
// it validates: what a reload and `composer plan` compare with the
// running platform. The error is a tsk.Diagnostics.
func LoadResolved(l *tsk.Loader, path string) (*Resolved, *tsk.Document, error) {
	doc, err := l.Load(path)
	if err != nil {
		return nil, doc, err
	}
	p := Defaults()
	if err := doc.Decode(p); err != nil {
		return nil, doc, err
	}
	r := Resolve(p, doc)
	if diags := Validate(r); len(diags) > 0 {
		return nil, doc, diags
	}
	return r, doc, nil
}

// Defaults returns a platform with the defaults that a platform file
// overrides. Those of health checks, breakers, event retries and the
// Kafka bus are their packages' own Defaults, written once there.
func Defaults() *Platform {
	hc, cb, kb, retry, od := health.Defaults, breaker.Defaults, kafkabus.Defaults, events.DefaultRetry, balancer.OutlierDefaults
	return &Platform{
		Configuration: Configuration{EnableMetrics: true, EnableDistributedTracing: true, EnableCircuitBreaker: true},
		Mesh:          Mesh{Listen: "127.0.0.1:0", Strict: true},
		Composer: Settings{Name: "composer", Listen: "127.0.0.1:8080", Admin: "127.0.0.1:9090", DataDir: "./data",
			DrainTimeout: 30 * time.Second},
		HealthChecks: HealthChecks{HealthCheck: HealthCheck{
			Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries, HealthyThreshold: hc.HealthyThreshold,
			Path: hc.Path, StartInterval: hc.StartInterval, StartPeriod: hc.StartPeriod,
			OutlierDetection: OutlierDetection{ConsecutiveFailures: od.ConsecutiveFailures, BaseEjectionTime: od.BaseEjectionTime,
				MaxEjectionTime: od.MaxEjectionTime, MaxEjectionPercent: od.MaxEjectionPercent},
		}},
		CircuitBreaker: CircuitBreakers{CircuitBreaker: CircuitBreaker{
			FailureThreshold: SeedCount(cb.FailureThreshold), RecoveryTimeout: SeedDuration(cb.RecoveryTimeout),
			HalfOpenState: true, HalfOpenMaxRequests: cb.HalfOpenMaxRequests, Window: cb.Window,
		}},
		Events: Events{Bus: "embedded",
			Topics:    KafkaTopics{AutoCreate: kb.AutoCreate, Partitions: kb.Partitions, ReplicationFactor: kb.ReplicationFactor},
			BatchSize: kb.BatchSize, Linger: kb.Linger,
			Retry: Retry{Attempts: retry.Attempts, Backoff: retry.Backoff, MaxBackoff: retry.Max}},
	}
}
