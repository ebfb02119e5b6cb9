// Package gendoc generates one synthetic platform configuration in three
// formats (TuskLang, YAML, TOML) carrying identical data, for benchmarks
// that compare loading a .tsk document with decoding the same data with
// gopkg.in/yaml.v3 and github.com/BurntSushi/toml.
//
// The document has a few top-level settings and sections (database,
// logging, defaults) and then a [services] section with one nested block per
// service:
//
//	svc123 {
//	    kind: "http"
//	    instances: ["http://127.0.0.1:7123", "http://127.0.0.1:8123"]
//	    routes: ["/svc123", "/svc123/:id"]
//	    timeout: "2s"
//	    retries: 2
//	    weight: 1.5
//	    enabled: true
//	    health {
//	        interval: "5s"
//	        path: "/health"
//	        thresholds { healthy: 2, unhealthy: 3 }
//	    }
//	}
//
// Values vary with the service number so that no two services are alike.
// Every string is written double-quoted in all three formats, integers
// without a decimal point and floats with one, so the three decode to the
// same values (up to Go's int/int64 types).
package gendoc

import (
	"bytes"
	"strconv"
)

// Doc is the same data in three formats.
type Doc struct {
	Services int // number of services
	TSK      []byte
	YAML     []byte
	TOML     []byte
}

// Generate returns a document with the given number of services.
func Generate(services int) Doc {
	var t, y, m bytes.Buffer
	n := max(services, 0)
	// Rough sizes, to allocate once.
	t.Grow(len(tskHeader) + n*330)
	y.Grow(len(yamlHeader) + n*380)
	m.Grow(len(tomlHeader) + n*400)

	t.WriteString(tskHeader)
	y.WriteString(yamlHeader)
	m.WriteString(tomlHeader)
	var b []byte
	for i := range n {
		s := service(i)
		b = s.tsk(b[:0])
		t.Write(b)
		b = s.yaml(b[:0])
		y.Write(b)
		b = s.toml(b[:0])
		m.Write(b)
	}
	if n == 0 {
		// An empty services object in every format (in TuskLang the
		// [services] header alone makes one).
		y.WriteString("  {}\n")
		m.WriteString("[services]\n")
	}
	return Doc{Services: n, TSK: t.Bytes(), YAML: y.Bytes(), TOML: m.Bytes()}
}

// ServicesForSize returns the largest number of services whose TuskLang
// document is at most target bytes long (at least 1).
func ServicesForSize(target int) int {
	size := len(tskHeader)
	var b []byte
	n := 0
	for {
		b = service(n).tsk(b[:0])
		if size+len(b) > target {
			return max(n, 1)
		}
		size += len(b)
		n++
	}
}

// GenerateSize returns a document whose TuskLang form is as close to
// target bytes as whole services allow, without going over.
func GenerateSize(target int) Doc { return Generate(ServicesForSize(target)) }

// The top-level part, identical in the three formats. TOML wants
// top-level keys before any table, so they come first everywhere.
const tskHeader = `# Synthetic platform configuration (benchmark data).
name: "platform"
version: 3
debug: false
region: "eu-west-1"

[database]
host: "db.internal"
port: 5432
user: "app"
pool { min: 2, max: 20 }
replicas: ["db-r1.internal:5432", "db-r2.internal:5432"]
timeout: 2.5

[logging]
level: "info"
format: "json"
sample_rate: 0.25
outputs: ["stdout", "/var/log/platform.log"]

[defaults]
timeout: "5s"
retries: 3
enabled: true

[services]
`

const yamlHeader = `# Synthetic platform configuration (benchmark data).
name: "platform"
version: 3
debug: false
region: "eu-west-1"

database:
  host: "db.internal"
  port: 5432
  user: "app"
  pool:
    min: 2
    max: 20
  replicas:
    - "db-r1.internal:5432"
    - "db-r2.internal:5432"
  timeout: 2.5

logging:
  level: "info"
  format: "json"
  sample_rate: 0.25
  outputs:
    - "stdout"
    - "/var/log/platform.log"

defaults:
  timeout: "5s"
  retries: 3
  enabled: true

services:
`

const tomlHeader = `# Synthetic platform configuration (benchmark data).
name = "platform"
version = 3
debug = false
region = "eu-west-1"

[database]
host = "db.internal"
port = 5432
user = "app"
pool = { min = 2, max = 20 }
replicas = ["db-r1.internal:5432", "db-r2.internal:5432"]
timeout = 2.5

[logging]
level = "info"
format = "json"
sample_rate = 0.25
outputs = ["stdout", "/var/log/platform.log"]

[defaults]
timeout = "5s"
retries = 3
enabled = true

`

// svc holds the values of one service.
type svc struct {
	name      string
	kind      string
	instances [2]string
	routes    [2]string
	timeout   string
	retries   int
	weight    string // a float literal, always with a decimal point
	enabled   bool
	interval  string
	path      string
	healthy   int
	unhealthy int
}

var (
	kinds     = [...]string{"http", "grpc", "tcp"}
	timeouts  = [...]string{"1s", "2s", "500ms", "10s"}
	weights   = [...]string{"0.5", "1.5", "2.25", "1.0"}
	intervals = [...]string{"5s", "10s", "30s"}
	paths     = [...]string{"/health", "/healthz", "/status"}
)

// service returns the values of service i.
func service(i int) svc {
	num := strconv.Itoa(i)
	name := "svc" + num
	port := 10000 + i%20000
	return svc{
		name: name,
		kind: kinds[i%len(kinds)],
		instances: [2]string{
			"http://127.0.0.1:" + strconv.Itoa(port),
			"http://127.0.0.1:" + strconv.Itoa(port+20000),
		},
		routes:    [2]string{"/" + name, "/" + name + "/:id"},
		timeout:   timeouts[i%len(timeouts)],
		retries:   i % 5,
		weight:    weights[i%len(weights)],
		enabled:   i%7 != 0,
		interval:  intervals[i%len(intervals)],
		path:      paths[i%len(paths)],
		healthy:   2 + i%2,
		unhealthy: 3 + i%3,
	}
}

func (s svc) tsk(b []byte) []byte {
	b = append(b, s.name...)
	b = append(b, " {\n    kind: "...)
	b = strconv.AppendQuote(b, s.kind)
	b = append(b, "\n    instances: ["...)
	b = strconv.AppendQuote(b, s.instances[0])
	b = append(b, ", "...)
	b = strconv.AppendQuote(b, s.instances[1])
	b = append(b, "]\n    routes: ["...)
	b = strconv.AppendQuote(b, s.routes[0])
	b = append(b, ", "...)
	b = strconv.AppendQuote(b, s.routes[1])
	b = append(b, "]\n    timeout: "...)
	b = strconv.AppendQuote(b, s.timeout)
	b = append(b, "\n    retries: "...)
	b = strconv.AppendInt(b, int64(s.retries), 10)
	b = append(b, "\n    weight: "...)
	b = append(b, s.weight...)
	b = append(b, "\n    enabled: "...)
	b = strconv.AppendBool(b, s.enabled)
	b = append(b, "\n    health {\n        interval: "...)
	b = strconv.AppendQuote(b, s.interval)
	b = append(b, "\n        path: "...)
	b = strconv.AppendQuote(b, s.path)
	b = append(b, "\n        thresholds { healthy: "...)
	b = strconv.AppendInt(b, int64(s.healthy), 10)
	b = append(b, ", unhealthy: "...)
	b = strconv.AppendInt(b, int64(s.unhealthy), 10)
	b = append(b, " }\n    }\n}\n"...)
	return b
}

func (s svc) yaml(b []byte) []byte {
	b = append(b, "  "...)
	b = append(b, s.name...)
	b = append(b, ":\n    kind: "...)
	b = strconv.AppendQuote(b, s.kind)
	b = append(b, "\n    instances:\n      - "...)
	b = strconv.AppendQuote(b, s.instances[0])
	b = append(b, "\n      - "...)
	b = strconv.AppendQuote(b, s.instances[1])
	b = append(b, "\n    routes:\n      - "...)
	b = strconv.AppendQuote(b, s.routes[0])
	b = append(b, "\n      - "...)
	b = strconv.AppendQuote(b, s.routes[1])
	b = append(b, "\n    timeout: "...)
	b = strconv.AppendQuote(b, s.timeout)
	b = append(b, "\n    retries: "...)
	b = strconv.AppendInt(b, int64(s.retries), 10)
	b = append(b, "\n    weight: "...)
	b = append(b, s.weight...)
	b = append(b, "\n    enabled: "...)
	b = strconv.AppendBool(b, s.enabled)
	b = append(b, "\n    health:\n      interval: "...)
	b = strconv.AppendQuote(b, s.interval)
	b = append(b, "\n      path: "...)
	b = strconv.AppendQuote(b, s.path)
	b = append(b, "\n      thresholds:\n        healthy: "...)
	b = strconv.AppendInt(b, int64(s.healthy), 10)
	b = append(b, "\n        unhealthy: "...)
	b = strconv.AppendInt(b, int64(s.unhealthy), 10)
	b = append(b, '\n')
	return b
}

func (s svc) toml(b []byte) []byte {
	b = append(b, "[services."...)
	b = append(b, s.name...)
	b = append(b, "]\nkind = "...)
	b = strconv.AppendQuote(b, s.kind)
	b = append(b, "\ninstances = ["...)
	b = strconv.AppendQuote(b, s.instances[0])
	b = append(b, ", "...)
	b = strconv.AppendQuote(b, s.instances[1])
	b = append(b, "]\nroutes = ["...)
	b = strconv.AppendQuote(b, s.routes[0])
	b = append(b, ", "...)
	b = strconv.AppendQuote(b, s.routes[1])
	b = append(b, "]\ntimeout = "...)
	b = strconv.AppendQuote(b, s.timeout)
	b = append(b, "\nretries = "...)
	b = strconv.AppendInt(b, int64(s.retries), 10)
	b = append(b, "\nweight = "...)
	b = append(b, s.weight...)
	b = append(b, "\nenabled = "...)
	b = strconv.AppendBool(b, s.enabled)
	b = append(b, "\n\n[services."...)
	b = append(b, s.name...)
	b = append(b, ".health]\ninterval = "...)
	b = strconv.AppendQuote(b, s.interval)
	b = append(b, "\npath = "...)
	b = strconv.AppendQuote(b, s.path)
	b = append(b, "\nthresholds = { healthy = "...)
	b = strconv.AppendInt(b, int64(s.healthy), 10)
	b = append(b, ", unhealthy = "...)
	b = strconv.AppendInt(b, int64(s.unhealthy), 10)
	b = append(b, " }\n\n"...)
	return b
}
