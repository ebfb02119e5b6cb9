package tsk

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadDecodeSrc evaluates src as test.tsk with the given environment.
func loadDecodeSrc(t testing.TB, src string, env map[string]string) *Document {
	t.Helper()
	l := &Loader{
		LookupEnv: func(name string) (string, bool) { s, ok := env[name]; return s, ok },
		Now:       func() time.Time { return time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) },
		ReadFile:  func(path string) ([]byte, error) { return nil, errors.New("no files in this test") },
	}
	doc, err := l.LoadBytes("test.tsk", []byte(src))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return doc
}

// threshold decodes itself: `true` means 5, an int means itself.
type threshold int

func (th *threshold) UnmarshalTSK(v *Value) error {
	switch {
	case v.Kind == Bool && v.Bool:
		*th = 5
		return nil
	case v.Kind == Int:
		*th = threshold(v.Int)
		return nil
	}
	return fmt.Errorf("expected true or a number, got %s", v.Describe())
}

// level decodes itself from text.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "debug":
		*l = 1
	case "info":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q (debug, info)", b)
	}
	return nil
}

// positioned decodes itself and reports its own positioned diagnostics.
type positioned string

func (p *positioned) UnmarshalTSK(v *Value) error {
	if v.Kind != String {
		return Diagnostics{{Pos: v.Pos, Msg: "positioned: not a string"}, {Pos: v.Pos, Msg: "positioned: second"}}
	}
	*p = positioned(v.Str)
	return nil
}

type service struct {
	Kind      string `tsk:"kind,required"`
	Routes    []string
	Instances []string
	Timeout   time.Duration
	Retries   int
	Port      *int
	DependsOn []string
}

type healthDefaults struct {
	Interval time.Duration
	Timeout  time.Duration
	Retries  uint8
}

type healthChecks struct {
	healthDefaults
	PerService map[string]healthDefaults `tsk:",rest"`
}

type breaker struct {
	FailureThreshold threshold
	RecoveryTimeout  time.Duration
	HalfOpenState    bool
}

type platform struct {
	Composer struct {
		Name   string `tsk:"name,required"`
		Listen string
		Debug  bool
	}
	Services       map[string]service
	HealthChecks   healthChecks
	CircuitBreaker breaker
}

type scalars struct {
	S   string
	B   bool
	I   int
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
}

type base struct {
	ID   string
	Name string
}

type Extra struct {
	Name  string // hidden by the tagged field of tagged
	Label string
}

type tagged struct {
	Title string `tsk:"name"`
}

type withEmbedded struct {
	base
	*Extra
	tagged
	Own int
}

type names struct {
	ServiceMesh  bool
	HTTPPort     int
	UserID       string
	Skipped      string `tsk:"-"`
	Renamed      string `tsk:"other"`
	unexported   string //lint:ignore U1000 present to show that unexported fields are ignored
	OptionalOnly string `tsk:",required"`
}

type ranges struct {
	Ports     struct{ Min, Max int }
	Typed     struct{ Min, Max, Type any }
	Generic   map[string]any
	Numbers   map[string]int64
	Interface any
}

type raw struct {
	Ptr     *Value
	Val     Value
	Any     any
	Nothing any
	Map     map[string]any
	Slice   []any
}

type envTyped struct {
	Port    int
	Big     uint16
	Debug   bool
	Off     bool
	Ratio   float64
	Timeout time.Duration
	Name    string
}

type decodeCase struct {
	name string
	src  string
	env  map[string]string
	// into returns a pointer to decode into, with its defaults.
	into func() any
	// want, when not nil, is the expected content of into's pointer.
	want any
	// err is the exact error text, or "" for success.
	err string
}

type svcName string

func intPtr(n int) *int { return &n }

var decodeCases = []decodeCase{
	{
		name: "scalars of every type",
		src: `s: "text"
b: true
i: -42
i8: -128
i16: 32767
i32: 2147483647
i64: -9223372036854775807
u: 7
u8: 255
u16: 65535
u32: 4294967295
u64: 18446744073709551615.0
f32: 1.5
f64: 3
`,
		into: func() any { return new(scalars) },
		want: &scalars{S: "text", B: true, I: -42, I8: -128, I16: 32767, I32: 2147483647, I64: -9223372036854775807,
			U: 7, U8: 255, U16: 65535, U32: 4294967295, U64: 0, F32: 1.5, F64: 3},
		err: "test.tsk:12:6: u64: 1.8446744073709552e+19 is out of range for uint64",
	},
	{
		name: "integral floats fill integers",
		src:  "i: 2.0\nu8: 255.0\ni64: -1e3\n",
		into: func() any { return new(scalars) },
		want: &scalars{I: 2, U8: 255, I64: -1000},
	},
	{
		name: "nested structs, maps, slices, durations and pointers",
		src: `[composer]
name: "shop"
listen: ":8080"
debug: false

[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
billing {
    kind: "http"
    instances: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"]
    timeout: "2s"
    retries: 2
    port: 7001
}
worker { kind: "process", depends_on: ["users"], port: null }

[health_checks]
interval: "5s"
timeout: "1s"
retries: 3
billing { interval: "2s" }

[circuit_breaker]
failure_threshold: true
recovery_timeout: "30s"
half_open_state: true
`,
		into: func() any {
			p := new(platform)
			p.Composer.Debug = true
			p.CircuitBreaker.FailureThreshold = 1
			return p
		},
		want: &platform{
			Composer: struct {
				Name   string `tsk:"name,required"`
				Listen string
				Debug  bool
			}{Name: "shop", Listen: ":8080"},
			Services: map[string]service{
				"users":   {Kind: "builtin", Routes: []string{"/users", "/users/:id"}},
				"billing": {Kind: "http", Instances: []string{"http://127.0.0.1:7001", "http://127.0.0.1:7002"}, Timeout: 2 * time.Second, Retries: 2, Port: intPtr(7001)},
				"worker":  {Kind: "process", DependsOn: []string{"users"}},
			},
			HealthChecks: healthChecks{
				healthDefaults: healthDefaults{Interval: 5 * time.Second, Timeout: time.Second, Retries: 3},
				PerService:     map[string]healthDefaults{"billing": {Interval: 2 * time.Second}},
			},
			CircuitBreaker: breaker{FailureThreshold: 5, RecoveryTimeout: 30 * time.Second, HalfOpenState: true},
		},
	},
	{
		name: "absent keys keep their defaults",
		src:  "[composer]\nname: \"x\"\n",
		into: func() any {
			p := new(platform)
			p.Composer.Listen = ":8080"
			p.CircuitBreaker = breaker{FailureThreshold: 5, RecoveryTimeout: time.Minute}
			return p
		},
		want: func() any {
			p := new(platform)
			p.Composer.Name = "x"
			p.Composer.Listen = ":8080"
			p.CircuitBreaker = breaker{FailureThreshold: 5, RecoveryTimeout: time.Minute}
			return p
		}(),
	},
	{
		name: "null clears a pointer; a present value fills a nil one",
		src:  "a: null\nb: 3\nc { kind: \"x\" }\n",
		into: func() any {
			return &struct {
				A, B *int
				C    *service
				D    *int
			}{A: intPtr(1), D: intPtr(4)}
		},
		want: &struct {
			A, B *int
			C    *service
			D    *int
		}{B: intPtr(3), C: &service{Kind: "x"}, D: intPtr(4)},
	},
	{
		name: "a non-nil pointer is decoded into",
		src:  "s { timeout: \"1s\" }\n",
		into: func() any { return &struct{ S *healthDefaults }{S: &healthDefaults{Retries: 1}} },
		want: &struct{ S *healthDefaults }{S: &healthDefaults{Retries: 1, Timeout: time.Second}},
	},
	{
		name: "rest map collects the keys that match no field",
		src: `[health_checks]
interval: "5s"
billing { interval: "2s" }
users { timeout: "3s", retries: 1 }
`,
		into: func() any {
			return &platform{HealthChecks: healthChecks{PerService: map[string]healthDefaults{"users": {Interval: time.Second}}}}
		},
		want: &platform{HealthChecks: healthChecks{
			healthDefaults: healthDefaults{Interval: 5 * time.Second},
			PerService: map[string]healthDefaults{
				"billing": {Interval: 2 * time.Second},
				"users":   {Interval: time.Second, Timeout: 3 * time.Second, Retries: 1},
			},
		}},
	},
	{
		name: "a misspelt default key that lands in the rest map gets a hint",
		src:  "[health_checks]\nintervl: \"5s\"\n",
		into: func() any { return new(platform) },
		err:  "test.tsk:2:10: health_checks.intervl: expected an object, got string \"5s\" (did you mean \"interval\"?)",
	},
	{
		name: "embedded structs are promoted",
		src:  "id: \"1\"\nname: \"tagged wins\"\nlabel: \"through a pointer\"\nown: 2\n",
		into: func() any { return new(withEmbedded) },
		want: &withEmbedded{base: base{ID: "1"}, Extra: &Extra{Label: "through a pointer"}, tagged: tagged{Title: "tagged wins"}, Own: 2},
	},
	{
		name: "names in snake_case, renamed and skipped fields",
		src:  "service_mesh: true\nhttp_port: 80\nuser_id: \"u\"\nother: \"o\"\noptional_only: \"r\"\n",
		into: func() any { return new(names) },
		want: &names{ServiceMesh: true, HTTPPort: 80, UserID: "u", Renamed: "o", OptionalOnly: "r"},
	},
	{
		name: "skipped, renamed and unexported fields are unknown keys",
		src:  "skipped: \"x\"\nrenamed: \"y\"\nunexported: \"z\"\n",
		into: func() any { return new(names) },
		err: `test.tsk:1:1: unknown key "skipped"
test.tsk:1:1: missing required key "optional_only"
test.tsk:2:1: unknown key "renamed"
test.tsk:3:1: unknown key "unexported"`,
	},
	{
		name: "Unmarshaler: true means the default, an int means itself",
		src:  "a: true\nb: 3\nc: false\nd: null\n",
		into: func() any { return &struct{ A, B, C, D threshold }{D: 9} },
		want: &struct{ A, B, C, D threshold }{A: 5, B: 3, D: 9},
		err: `test.tsk:3:4: c: expected true or a number, got bool false
test.tsk:4:4: d: expected true or a number, got null`,
	},
	{
		name: "Unmarshaler behind a pointer: null leaves it nil",
		src:  "a: 7\nb: null\n",
		into: func() any { return &struct{ A, B *threshold }{} },
		want: func() any { seven := threshold(7); return &struct{ A, B *threshold }{A: &seven} }(),
	},
	{
		name: "Unmarshaler returning Diagnostics keeps them as they are",
		src:  "p: 1\nq: \"ok\"\n",
		into: func() any { return &struct{ P, Q positioned }{} },
		want: &struct{ P, Q positioned }{Q: "ok"},
		err:  "test.tsk:1:4: positioned: not a string\ntest.tsk:1:4: positioned: second",
	},
	{
		name: "TextUnmarshaler from strings",
		src:  "addr: \"10.0.0.1\"\nlevel: \"info\"\nlevels: [\"debug\", \"info\"]\n",
		into: func() any {
			return &struct {
				Addr   netip.Addr
				Level  level
				Levels []level
			}{}
		},
		want: &struct {
			Addr   netip.Addr
			Level  level
			Levels []level
		}{Addr: netip.MustParseAddr("10.0.0.1"), Level: 2, Levels: []level{1, 2}},
	},
	{
		name: "TextUnmarshaler errors",
		src:  "addr: \"10.0.0\"\nother: 5\nlevel: \"loud\"\n",
		into: func() any {
			return &struct {
				Addr  netip.Addr
				Other netip.Addr
				Level level
			}{}
		},
		err: `test.tsk:1:7: addr: cannot decode string "10.0.0" into netip.Addr: ParseAddr("10.0.0"): IPv4 address too short
test.tsk:2:8: other: expected a string, got int 5
test.tsk:3:8: level: cannot decode string "loud" into tsk.level: unknown level "loud" (debug, info)`,
	},
	{
		name: "TextUnmarshaler of a non-struct kind takes its kind's values too",
		src:  "level: 1\n",
		into: func() any { return &struct{ Level level }{} },
		want: &struct{ Level level }{Level: 1},
	},
	{
		name: "raw values and interfaces",
		src:  "ptr: 8000-9000\nval: \"v\"\nany { a: [1, 2.5, \"x\", true] }\nnothing: null\nmap { k: 1 }\nslice: [null, 1]\n",
		into: func() any { return &raw{Nothing: "default"} },
		want: &raw{
			Ptr:   &Value{Kind: Range, Int: 8000, Max: 9000},
			Val:   Value{Kind: String, Str: "v"},
			Any:   map[string]any{"a": []any{int64(1), 2.5, "x", true}},
			Map:   map[string]any{"k": int64(1)},
			Slice: []any{nil, int64(1)},
		},
	},
	{
		name: "an interface holding a pointer is decoded through it",
		src:  "x: 5\n",
		into: func() any {
			n := 1
			return &struct{ X any }{X: &n}
		},
		want: func() any {
			n := 5
			return &struct{ X any }{X: &n}
		}(),
	},
	{
		name: "ranges decode as {min, max, type}",
		src:  "ports: 8000-9000\ntyped: 1-2\ngeneric: 3-4\nnumbers: 5-6\ninterface: 7-8\n",
		into: func() any { return new(ranges) },
		want: &ranges{
			Ports:     struct{ Min, Max int }{8000, 9000},
			Typed:     struct{ Min, Max, Type any }{int64(1), int64(2), "range"},
			Generic:   map[string]any{"min": int64(3), "max": int64(4), "type": "range"},
			Numbers:   map[string]int64{"min": 5, "max": 6},
			Interface: map[string]any{"min": int64(7), "max": int64(8), "type": "range"},
		},
	},
	{
		name: "a range into a struct with other fields",
		src:  "ports: 8000-9000\n",
		into: func() any { return &struct{ Ports struct{ Low, High int } }{} },
		err: `test.tsk:1:8: unknown key "min" in ports
test.tsk:1:8: unknown key "max" in ports`,
	},
	{
		name: "slices, fixed arrays and maps",
		src:  "list: [1, 2, 3]\npair: [\"a\", \"b\"]\ngrid: [[1], [2, 3]]\nm { b: 2, a: 1 }\nnamed { x: \"y\" }\nobjs: [{ kind: \"a\" }, { kind: \"b\", retries: 1 }]\nempty: []\nnone: null\n",
		into: func() any {
			return &struct {
				List  []int
				Pair  [2]string
				Grid  [][]int64
				M     map[string]int
				Named map[svcName]string
				Objs  []service
				Empty []string
				None  []string
			}{List: []int{9, 9, 9, 9}, None: []string{"x"}}
		},
		want: func() any {
			return &struct {
				List  []int
				Pair  [2]string
				Grid  [][]int64
				M     map[string]int
				Named map[svcName]string
				Objs  []service
				Empty []string
				None  []string
			}{
				List:  []int{1, 2, 3},
				Pair:  [2]string{"a", "b"},
				Grid:  [][]int64{{1}, {2, 3}},
				M:     map[string]int{"a": 1, "b": 2},
				Named: map[svcName]string{"x": "y"},
				Objs:  []service{{Kind: "a"}, {Kind: "b", Retries: 1}},
				Empty: []string{},
			}
		}(),
	},
	{
		name: "array errors name the index",
		src:  "routes: [\"/a\", \"/b\", 3]\npair: [1]\nobjs: [{ kind: 1 }]\n",
		into: func() any {
			return &struct {
				Routes []string
				Pair   [2]int
				Objs   []service
			}{}
		},
		err: `test.tsk:1:22: routes[2]: expected a string, got int 3
test.tsk:2:7: pair: expected an array of 2 items, got 1
test.tsk:3:16: objs[0].kind: expected a string, got int 1`,
	},
	{
		name: "environment text fills typed fields",
		src: `port: @env("PORT")
big: @env("BIG")
debug: @env("DEBUG")
off: @env("OFF")
ratio: @env("RATIO")
timeout: @env("TIMEOUT")
name: "svc-" + @env("PORT")
`,
		env:  map[string]string{"PORT": "9000", "BIG": "65535", "DEBUG": "true", "OFF": "0", "RATIO": " 0.25 ", "TIMEOUT": "1m30s"},
		into: func() any { return new(envTyped) },
		want: &envTyped{Port: 9000, Big: 65535, Debug: true, Ratio: 0.25, Timeout: 90 * time.Second, Name: "svc-9000"},
	},
	{
		name: "the default of an unset variable keeps its type",
		src:  "port: @env(\"PORT\", 8080)\ntimeout: @env(\"TIMEOUT\", \"5s\")\n",
		into: func() any { return new(envTyped) },
		want: &envTyped{Port: 8080, Timeout: 5 * time.Second},
	},
	{
		name: "bad environment text is reported without showing it",
		src: `port: @env("PORT")
big: @env("BIG")
debug: @env("DEBUG")
ratio: @env("RATIO")
timeout: @env("TIMEOUT")
off: @env("OFF")
`,
		env: map[string]string{"PORT": "secret-9000", "BIG": "-70000", "DEBUG": "yes-secret", "RATIO": "secret", "TIMEOUT": "secret5q", "OFF": "99999999999999999999999"},
		into: func() any {
			return &struct {
				Port    int
				Big     uint16
				Debug   bool
				Ratio   float32
				Timeout time.Duration
				Off     int64
			}{}
		},
		err: `test.tsk:1:7: port: expected an integer, got string from the environment
test.tsk:2:6: big: the integer from the environment is out of range for uint16
test.tsk:3:8: debug: expected a bool ("true", "false", "1" or "0"), got string from the environment
test.tsk:4:8: ratio: expected a number, got string from the environment
test.tsk:5:10: timeout: invalid duration from the environment (examples: "500ms", "30s", "5m")
test.tsk:6:6: off: the integer from the environment is out of range for int64`,
	},
	{
		name: "environment text out of range for small types",
		src:  "a: @env(\"A\")\nb: @env(\"B\")\nc: @env(\"C\")\n",
		env:  map[string]string{"A": "300", "B": "1e39", "C": "-1"},
		into: func() any {
			return &struct {
				A int8
				B float32
				C uint
			}{}
		},
		err: `test.tsk:1:4: a: the integer from the environment is out of range for int8
test.tsk:2:4: b: the number from the environment is out of range for float32
test.tsk:3:4: c: the integer from the environment is out of range for uint`,
	},
	{
		name: "text that is not from the environment does not convert",
		src:  "port: \"9000\"\ndebug: \"true\"\nname: 5\n",
		into: func() any { return new(envTyped) },
		err: `test.tsk:1:7: port: expected an integer, got string "9000"
test.tsk:2:8: debug: expected a bool, got string "true"
test.tsk:3:7: name: expected a string, got int 5`,
	},
	{
		name: "wrong types, with the path from the root",
		src: `[services]
users { kind: 5 }
billing { kind: "http", routes: "/billing", timeout: 30, retries: 2.5, port: "80" }
`,
		into: func() any { return new(platform) },
		err: `test.tsk:2:15: services.users.kind: expected a string, got int 5
test.tsk:3:33: services.billing.routes: expected an array, got string "/billing"
test.tsk:3:54: services.billing.timeout: expected a duration with a unit, got int 30 (write "30s")
test.tsk:3:67: services.billing.retries: expected an integer, got float 2.5
test.tsk:3:78: services.billing.port: expected an integer, got string "80"`,
	},
	{
		name: "type errors at the root have no path",
		src:  "[\"x\"]\n",
		into: func() any { return new([]string) },
		err:  "test.tsk:1:1: expected an array, got object",
	},
	{
		name: "unknown keys, with did you mean",
		src: `composer_name: 1
[services]
billing { kind: "http", timeot: "2s", zzz: 1 }
[sevices]
`,
		into: func() any { return new(platform) },
		err: `test.tsk:1:1: unknown key "composer_name"
test.tsk:3:25: unknown key "timeot" in services.billing (did you mean "timeout"?)
test.tsk:3:39: unknown key "zzz" in services.billing
test.tsk:4:2: unknown section "sevices" (did you mean "services"?)`,
	},
	{
		name: "missing required keys",
		src:  "[composer]\nlisten: \":80\"\n[services]\nusers { routes: [] }\n",
		into: func() any { return new(platform) },
		err: `test.tsk:1:2: composer: missing required key "name"
test.tsk:4:1: services.users: missing required key "kind"`,
	},
	{
		name: "required keys present with null are present",
		src:  "kind: null\n",
		into: func() any { return new(service) },
		err:  "test.tsk:1:7: kind: expected a string, got null",
	},
	{
		name: "bad durations",
		src:  "[health_checks]\ninterval: \"5q\"\ntimeout: true\nretries: 1\n",
		into: func() any { return new(platform) },
		err: `test.tsk:2:11: health_checks.interval: invalid duration "5q" (examples: "500ms", "30s", "5m")
test.tsk:3:10: health_checks.timeout: expected a duration such as "30s", got bool true`,
	},
	{
		name: "out of range",
		src:  "u8: 300\ni8: -129\nu: -1\nf32: 1e39\nu16: 70000.0\ni64: 1e19\n",
		into: func() any { return new(scalars) },
		err: `test.tsk:1:5: u8: 300 is out of range for uint8
test.tsk:2:5: i8: -129 is out of range for int8
test.tsk:3:4: u: -1 is out of range for uint
test.tsk:4:6: f32: 1e+39 is out of range for float32
test.tsk:5:6: u16: 70000.0 is out of range for uint16
test.tsk:6:6: i64: 1e+19 is out of range for int64`,
	},
	{
		name: "unevaluated operators",
		src: `a: @query("select 1")
b: @Query("users").where("active", true)
c: @cache("5m", 1) + 1
d { x: [1, @metrics("m")] }
e: @query("x")
f: @query("y")
`,
		into: func() any {
			return &struct {
				A string
				B []string
				C int
				D any
				E *Value
				F *int
			}{}
		},
		err: `test.tsk:1:4: a: @query(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)
test.tsk:2:4: b: @Query(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)
test.tsk:3:4: c: @cache(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)
test.tsk:4:12: d.x[1]: @metrics(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)
test.tsk:6:4: f: @query(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)`,
	},
	{
		name: "many problems at once, in file order",
		src: `[composer]
listen: 80
[services]
users { kind: "builtin", routes: ["/u", 2], retries: "3" }
orders { timeout: "forever" }
[health_checks]
retries: 300
[circuit_breaker]
failure_threshold: "five"
half_open_stat: true
`,
		into: func() any { return new(platform) },
		err: `test.tsk:1:2: composer: missing required key "name"
test.tsk:2:9: composer.listen: expected a string, got int 80
test.tsk:4:41: services.users.routes[1]: expected a string, got int 2
test.tsk:4:54: services.users.retries: expected an integer, got string "3"
test.tsk:5:1: services.orders: missing required key "kind"
test.tsk:5:19: services.orders.timeout: invalid duration "forever" (examples: "500ms", "30s", "5m")
test.tsk:7:10: health_checks.retries: 300 is out of range for uint8
test.tsk:9:20: circuit_breaker.failure_threshold: expected true or a number, got string "five"
test.tsk:10:1: unknown key "half_open_stat" in circuit_breaker (did you mean "half_open_state"?)`,
	},
}

func TestDecode(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			doc := loadDecodeSrc(t, c.src, c.env)
			out := c.into()
			err := doc.Decode(out)
			got := ""
			if err != nil {
				var ds Diagnostics
				if !errors.As(err, &ds) {
					t.Fatalf("error is a %T, not Diagnostics: %v", err, err)
				}
				got = err.Error()
			}
			if got != c.err {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.err)
			}
			if c.want != nil && !reflect.DeepEqual(clearPos(out), c.want) {
				t.Errorf("decoded:\n%#v\nwant:\n%#v", out, c.want)
			}
			for k, v := range c.env {
				if strings.Contains(got, strings.TrimSpace(v)) {
					t.Errorf("the message shows the value of $%s: %s", k, got)
				}
			}
		})
	}
}

// clearPos zeroes the positions of Value fields, so that tests can compare
// them.
func clearPos(out any) any {
	if r, ok := out.(*raw); ok {
		if r.Ptr != nil {
			p := *r.Ptr
			p.Pos, p.End = Pos{}, Pos{}
			r.Ptr = &p
		}
		r.Val.Pos, r.Val.End = Pos{}, Pos{}
	}
	return out
}

func TestDecodeMapsAreNotModified(t *testing.T) {
	shared := map[string]int{"a": 1, "b": 2}
	defaults := healthChecks{PerService: map[string]healthDefaults{"users": {Retries: 1}}}
	var out struct {
		M  map[string]int
		HC healthChecks
	}
	out.M = shared
	out.HC = defaults
	doc := loadDecodeSrc(t, "m { b: 3, c: 4 }\nhc { billing { retries: 2 } }\n", nil)
	if err := doc.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 1, "b": 3, "c": 4}; !reflect.DeepEqual(out.M, want) {
		t.Errorf("M = %v, want %v", out.M, want)
	}
	if want := (map[string]int{"a": 1, "b": 2}); !reflect.DeepEqual(shared, want) {
		t.Errorf("the caller's map changed: %v", shared)
	}
	if len(defaults.PerService) != 1 || len(out.HC.PerService) != 2 {
		t.Errorf("rest maps: defaults %v, decoded %v", defaults.PerService, out.HC.PerService)
	}
}

func TestDecodeArguments(t *testing.T) {
	doc := loadDecodeSrc(t, "a: 1\n", nil)
	for _, c := range []struct {
		name string
		out  any
		want string
	}{
		{"nil", nil, "tsk.Decode: out must be a non-nil pointer, got <nil>"},
		{"not a pointer", struct{}{}, "tsk.Decode: out must be a non-nil pointer, got struct {}"},
		{"nil pointer", (*struct{})(nil), "tsk.Decode: out must be a non-nil pointer, got *struct {}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := doc.Decode(c.out)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v, want %s", err, c.want)
			}
		})
	}
	t.Run("nil value leaves out unchanged", func(t *testing.T) {
		n := 3
		if err := Decode(nil, &n); err != nil || n != 3 {
			t.Errorf("got %v, %d", err, n)
		}
	})
	t.Run("a sub-tree decodes with paths from it", func(t *testing.T) {
		doc := loadDecodeSrc(t, "[services]\nusers { kind: 1 }\n", nil)
		var s service
		err := Decode(doc.Lookup("services.users"), &s)
		if want := "test.tsk:2:15: kind: expected a string, got int 1"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("unsupported Go types", func(t *testing.T) {
		var out struct {
			C chan int
			M map[int]string
			R struct {
				Extra []string `tsk:",rest"`
			}
			I fmt.Stringer
		}
		doc := loadDecodeSrc(t, "c: 1\nm { a: \"b\" }\nr { x: 1 }\ni: 2\n", nil)
		want := `test.tsk:1:4: c: cannot decode into Go type chan int
test.tsk:2:1: m: cannot decode into Go type map[int]string (map keys must be strings)
test.tsk:3:1: r: cannot decode into struct { Extra []string "tsk:\",rest\"" }.Extra: a ` + "`tsk:\",rest\"`" + ` field must be a map[string]T, not []string
test.tsk:3:5: unknown key "x" in r
test.tsk:4:4: i: cannot decode into Go type fmt.Stringer`
		if err := doc.Decode(&out); err == nil || err.Error() != want {
			t.Errorf("got\n%v\nwant\n%s", err, want)
		}
	})
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Name":        "name",
		"ServiceMesh": "service_mesh",
		"HTTPPort":    "http_port",
		"UserID":      "user_id",
		"ID":          "id",
		"HTTP2Port":   "http2_port",
		"Port8080":    "port8080",
		"V2API":       "v2_api",
		"Already_Cut": "already_cut",
		"DataDir":     "data_dir",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeEmbeddedAmbiguity(t *testing.T) {
	type a struct{ X, Y int }
	type b struct{ X int }
	type c struct {
		Y int `tsk:"y"`
	}
	type outer struct {
		a
		b
		c
	}
	// X is ambiguous (a.X and b.X) and dropped; Y is a.Y against tagged c.Y.
	doc := loadDecodeSrc(t, "y: 2\nx: 1\n", nil)
	var out outer
	err := doc.Decode(&out)
	if want := `test.tsk:2:1: unknown key "x" (did you mean "y"?)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if out.c.Y != 2 || out.a.Y != 0 {
		t.Errorf("decoded %+v", out)
	}
}

// TestDecodeConcurrent decodes one document from many goroutines (the type
// cache is shared); run it with -race.
func TestDecodeConcurrent(t *testing.T) {
	doc := loadDecodeSrc(t, decodeCases[2].src, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var p platform
			if err := doc.Decode(&p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func manyServices(n int) string {
	var b strings.Builder
	b.WriteString("[services]\n")
	for i := range n {
		fmt.Fprintf(&b, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/s%d/*path\"], timeout: \"2s\", retries: 2, port: %d }\n", i, 7000+i, i, 7000+i)
	}
	return b.String()
}

func TestDecodeManyServices(t *testing.T) {
	doc := loadDecodeSrc(t, manyServices(3000), nil)
	var p platform
	if err := doc.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 3000 || *p.Services["svc2999"].Port != 9999 {
		t.Errorf("decoded %d services", len(p.Services))
	}
}

func BenchmarkDecode(b *testing.B) {
	doc := loadDecodeSrc(b, manyServices(5000), nil)
	b.ReportAllocs()
	for b.Loop() {
		var p platform
		if err := doc.Decode(&p); err != nil {
			b.Fatal(err)
		}
	}
}

// fuzzTarget is a representative configuration struct.
type fuzzTarget struct {
	platform
	Names    names
	Scalars  scalars
	Ranges   ranges
	Raw      raw
	Env      envTyped
	Embedded withEmbedded
	List     []service
	Fixed    [2]int
	Deep     map[string]map[string][]*threshold
	Level    level
	Addr     netip.Addr
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c.src)
	}
	f.Add("scalars { u8: 3.0, f32: 1e39, i: 1e300 }\nenv { port: @env(\"PORT\"), debug: @env(\"DEBUG\") }\n")
	f.Add("raw { any: @query(1), map { a: @x() ? 1 : 2 } }\nfixed: [1, @q()]\ndeep { a { b: [true, 3, null] } }\n")
	env := map[string]string{"PORT": "9000", "DEBUG": "1", "TIMEOUT": "x"}
	l := &Loader{
		LookupEnv: func(name string) (string, bool) { s, ok := env[name]; return s, ok },
		Now:       func() time.Time { return time.Unix(0, 0).UTC() },
		ReadFile:  func(string) ([]byte, error) { return nil, errors.New("no files") },
	}
	f.Fuzz(func(t *testing.T, src string) {
		doc, _ := l.LoadBytes("fuzz.tsk", []byte(src))
		if doc == nil || doc.Root == nil {
			return
		}
		var out fuzzTarget
		err := doc.Decode(&out)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("error %T %v is not a non-empty Diagnostics", err, err)
			}
		}
		var a any
		_ = doc.Decode(&a)
		var m map[string]any
		_ = doc.Decode(&m)
	})
}
