package composer

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/tsk"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestPlatformFilesDecode loads the default platform, every example and the
// seed's own configuration page.
func TestPlatformFilesDecode(t *testing.T) {
	files := []string{"../platform.tsk", "../../shared/tsk-corpus/docs-rust-seed-microservices-architecture.tsk"}
	examples, _ := filepath.Glob("../examples/*/*.tsk")
	if len(examples) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range append(files, examples...) {
		t.Run(f, func(t *testing.T) {
			if _, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, f); err != nil {
				t.Fatalf("%v", err)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestDefaultPlatform(t *testing.T) {
	p, doc, err := Load(&tsk.Loader{LookupEnv: noEnv}, "../platform.tsk")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Files) != 1 {
		t.Errorf("Files = %v", doc.Files)
	}
	if p.Composer.Name != "shop" || p.Composer.Listen != "127.0.0.1:8080" {
		t.Errorf("composer settings = %+v", p.Composer)
	}
	for _, name := range []string{"users", "orders", "notifications"} {
		if s := p.Services[name]; s == nil || s.Kind != "builtin" {
			t.Errorf("service %s = %+v", name, s)
		}
	}
	if got := p.Services["orders"].Calls; len(got) != 1 || got[0] != "users" {
		t.Errorf("orders calls %v", got)
	}
	cb := p.CircuitBreaker.CircuitBreaker
	if int(cb.FailureThreshold) != SeedFailureThreshold || time.Duration(cb.RecoveryTimeout) != SeedRecoveryTimeout || !cb.HalfOpenState {
		t.Errorf("`true` did not mean the seed's defaults: %+v", cb)
	}
	if r := p.EventRoutes["welcome"]; r.Topic != "user.created" || len(r.To) != 1 {
		t.Errorf("welcome route = %+v", r)
	}
}

func TestReferencePerTargetBlocks(t *testing.T) {
	p, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, "../examples/reference/platform.tsk")
	if err != nil {
		t.Fatal(err)
	}
	if hc := p.HealthChecks.PerService["billing"]; hc.Interval != 2*time.Second {
		t.Errorf("billing health interval = %v", hc.Interval)
	}
	if p.HealthChecks.Interval != 5*time.Second || p.HealthChecks.Retries != 3 {
		t.Errorf("health defaults = %+v", p.HealthChecks.HealthCheck)
	}
	if cb := p.CircuitBreaker.PerTarget["billing"]; cb.FailureThreshold != 3 {
		t.Errorf("billing breaker = %+v", cb)
	}
	if s := p.Services["billing"]; s.Timeout != 2*time.Second || s.Retries != 2 || len(s.Instances.URLs) != 2 {
		t.Errorf("billing = %+v", s)
	}
	if w := p.Services["worker"]; w.Command[2] != "${PORT}" {
		t.Errorf("worker command = %q, want the ${PORT} placeholder kept", w.Command)
	}
}

// TestTyposAreDiagnostics checks that every mistake of a bad platform file
// is reported at once with its position.
func TestTyposAreDiagnostics(t *testing.T) {
	_, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, "testdata/typos.tsk")
	if err == nil {
		t.Fatal("no diagnostics")
	}
	compareGolden(t, "testdata/typos.err", err.Error()+"\n")
}

// TestValidate checks the problems that only show once the file has
// decoded: enumerations, references, cycles, routes declared twice.
func TestValidate(t *testing.T) {
	_, _, err := Load(&tsk.Loader{LookupEnv: noEnv}, "testdata/invalid.tsk")
	if err == nil {
		t.Fatal("no diagnostics")
	}
	compareGolden(t, "testdata/invalid.err", err.Error()+"\n")
}

// compareGolden compares got with a golden file (rewritten with -update).
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("differs from %s:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestWarnings checks what a valid platform says that has no effect.
func TestWarnings(t *testing.T) {
	r, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, "testdata/warnings.tsk")
	if err != nil {
		t.Fatal(err)
	}
	ws := Warnings(r)
	for _, w := range ws {
		if w.Severity != tsk.Warning {
			t.Errorf("%v is not a warning", w)
		}
	}
	compareGolden(t, "testdata/warnings.err", ws.Error()+"\n")
}

// TestValidateWithoutASource: a platform built in Go, not read from a
// file, is validated too; its problems have no position.
func TestValidateWithoutASource(t *testing.T) {
	p := Defaults()
	p.Services = map[string]*Service{"billing": {Kind: "http", LoadBalancer: "fastest"}}
	diags := Validate(Resolve(p, nil))
	if len(diags) != 2 {
		t.Fatalf("diagnostics: %v", diags)
	}
	for _, d := range diags {
		if d.Pos.Line != 0 {
			t.Errorf("a position out of nowhere: %v", d)
		}
	}
}

func TestInstanceBlocks(t *testing.T) {
	for _, tc := range []struct {
		name, instances, err string
	}{
		{"weights", `[{ url: "http://127.0.0.1:7001", weight: 3 }, "http://127.0.0.1:7002"]`, ""},
		{"a typo", `[{ url: "http://127.0.0.1:7001", wieght: 3 }]`, `unknown key "wieght" (an instance is { url, weight }) (did you mean "weight"?)`},
		{"no url", `[{ weight: 3 }]`, "with a url"},
		{"weight 0", `[{ url: "http://127.0.0.1:7001", weight: 0 }]`, "weight is a whole number from 1 to 1000, got int 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, writeFile(t, dir, "[services]\nb { kind: \"http\", instances: "+tc.instances+" }\n"))
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "":
				if got := r.Services["b"].Weights; len(got) != 2 || got[0] != 3 || got[1] != 1 {
					t.Errorf("weights %v", got)
				}
			case err == nil || !strings.Contains(err.Error(), tc.err):
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func writeFile(t *testing.T, dir, src string) string {
	t.Helper()
	file := filepath.Join(dir, "platform.tsk")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestAdminAddress: an admin address off loopback needs an admin token
// (the addresses are only validated, never listened on).
func TestAdminAddress(t *testing.T) {
	for _, tc := range []struct {
		name, composer, err string
	}{
		{"loopback", `admin: "127.0.0.1:9090"`, ""},
		{"localhost", `admin: "localhost:9090"`, ""},
		{"ipv6 loopback", `admin: "[::1]:9090"`, ""},
		{"another host", `admin: "192.0.2.1:9090"`, `platform.tsk:2:8: admin "192.0.2.1:9090" is not a loopback address`},
		{"every interface", `admin: ":9090"`, `admin ":9090" is not a loopback address`},
		{"another host with a token", "admin: \"192.0.2.1:9090\"\nadmin_token: \"t0ken\"", ""},
		{"not an address", `admin: "9090"`, `admin "9090" is not a host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadResolved(&tsk.Loader{LookupEnv: noEnv}, writeFile(t, t.TempDir(), "[composer]\n"+tc.composer+"\n"))
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}
