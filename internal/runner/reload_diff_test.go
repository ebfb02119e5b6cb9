package runner

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/composer"

	"github.com/tuskcompose/composer/tsk"
)

var diffSeed = flag.Uint64("diff-seed", 0, "the seed of TestReloadCarriesOutThePlan's platforms (0: from the clock)")

// TestMain lets the test binary be a process service: with
// COMPOSER_TEST_SERVE set it answers HTTP on $PORT until it is stopped
// (with COMPOSER_TEST_FORWARD, the name of a variable holding a URL, by
// forwarding each request to that URL's /x),
// after COMPOSER_TEST_DELAY (a duration) when set, and writes the time it
// started listening (Unix nanoseconds) to COMPOSER_TEST_LISTENED when set.
func TestMain(m *testing.M) {
	if os.Getenv("COMPOSER_TEST_SERVE") != "" {
		if d, err := time.ParseDuration(os.Getenv("COMPOSER_TEST_DELAY")); err == nil {
			time.Sleep(d)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
		if err != nil {
			os.Exit(1)
		}
		if f := os.Getenv("COMPOSER_TEST_LISTENED"); f != "" {
			os.WriteFile(f, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
		}
		forward := os.Getenv("COMPOSER_TEST_FORWARD") // the name of a variable with a URL
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if forward == "" || r.URL.Path == "/health" {
				io.WriteString(w, "ok")
				return
			}
			resp, err := http.Get(os.Getenv(forward) + "/x")
			if err != nil {
				w.WriteHeader(599)
				io.WriteString(w, err.Error())
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		}))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// randomPlatform writes a valid platform that differs from the others
// the same rng makes in services, instances, routes, breakers, health
// checks, processes, event routes and settings that need a restart.
func randomPlatform(rng *rand.Rand, dir string) string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	chance := func(p float64) bool { return rng.Float64() < p }
	var b strings.Builder
	fmt.Fprintf(&b, "[composer]\nname: %q\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n", pick("shop", "shop", "shop", "store"), filepath.Join(dir, "data"))
	if chance(0.15) {
		b.WriteString("[microservices_configuration]\nenable_circuit_breaker: false\n")
	}
	b.WriteString("[services]\n")
	fmt.Fprintf(&b, "users { kind: \"builtin\", routes: %s }\n", pick(`["/users", "/users/:id"]`, `["/users"]`))
	b.WriteString("orders { kind: \"builtin\", routes: [\"/orders\"], calls: [\"users\"] }\nnotifications { kind: \"builtin\" }\n")
	ports := []string{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"}
	instances := func() string {
		var in []string
		for _, p := range ports {
			if chance(0.6) {
				in = append(in, fmt.Sprintf("%q", p))
			}
		}
		if len(in) == 0 {
			in = append(in, fmt.Sprintf("%q", ports[0]))
		}
		return "[" + strings.Join(in, ", ") + "]"
	}
	billing, worker := chance(0.8), chance(0.6)
	if billing {
		fmt.Fprintf(&b, "billing { kind: \"http\", instances: %s, routes: [%s], load_balancer: %q, retries: %d%s }\n",
			instances(), pick(`"/billing/*path"`, `"/billing"`), pick("round_robin", "random", "least_requests"), rng.IntN(3),
			pick("", `, timeout: "1s"`, `, timeout: "2s"`))
	}
	if chance(0.5) {
		fmt.Fprintf(&b, "search { kind: \"http\", instances: %s, routes: [\"/search\"] }\n", instances())
	}
	if worker {
		routes := pick(`routes: ["/work"], `, "")
		fmt.Fprintf(&b, "worker { kind: \"process\", command: [%q, \"-test.run=^$\", %q], %sinstances: %d, calls: %s, env: { COMPOSER_TEST_SERVE: \"1\" } }\n",
			os.Args[0], pick("-test.count=1", "-test.count=2"), routes, 1+rng.IntN(2), pick(`[]`, `["users"]`, `["users", "orders"]`))
	}
	fmt.Fprintf(&b, "[health_checks]\ninterval: %q\nretries: %d\n", pick("50ms", "100ms"), 1+rng.IntN(2))
	if billing && chance(0.5) {
		fmt.Fprintf(&b, "billing { interval: %q }\n", pick("60ms", "70ms"))
	}
	if worker && chance(0.4) {
		fmt.Fprintf(&b, "worker { timeout: %q }\n", pick("500ms", "2s"))
	}
	fmt.Fprintf(&b, "[circuit_breaker]\nfailure_threshold: %d\n", 3+2*rng.IntN(2))
	if billing && chance(0.5) {
		fmt.Fprintf(&b, "billing { half_open_state: %v }\n", chance(0.5))
	}
	fmt.Fprintf(&b, "[events]\nretry { attempts: %d }\n", 3+2*rng.IntN(2))
	b.WriteString("[event_routes]\nwelcome { topic: \"user.created\", to: [\"notifications\"] }\n")
	if chance(0.5) {
		fmt.Fprintf(&b, "big { topic: \"order.created\", filter: %q, to: [\"notifications\"] }\n", pick("data.total_amount > 100", "data.total_amount > 10"))
	}
	if billing && chance(0.6) {
		b.WriteString("bill { topic: \"order.created\", to: [\"billing\"] }\n")
	}
	if chance(0.5) {
		fmt.Fprintf(&b, "hook { topic: \"order.created\", to: [\"http://127.0.0.1:1/hook\"], retry { attempts: %d } }\n", 1+rng.IntN(2))
	}
	return b.String()
}

// TestReloadCarriesOutThePlan is the differential test of plan and
// reload: for a sequence of random platforms, a real reload's actions are
// what Diff predicted from the running platform's JSON (what `composer
// plan` does), and the components carried over are exactly those it
// keeps.
func TestReloadCarriesOutThePlan(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	if err := os.WriteFile(file, []byte(randomPlatform(rng, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startFile(t, file)
	kept, steps := 0, 12
	if testing.Short() {
		steps = 4
	}
	for step := range steps {
		src := randomPlatform(rng, dir)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + r.AdminAddr() + "/v1/platform")
		if err != nil {
			t.Fatal(err)
		}
		var cur composer.Resolved
		err = json.NewDecoder(resp.Body).Decode(&cur)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		cur.Compile()
		next, _, err := composer.LoadResolved(&tsk.Loader{LookupEnv: noEnv}, file)
		if err != nil {
			t.Fatalf("step %d: %v\n%s", step, err, src)
		}
		planned := composer.Diff(&cur, next)
		before := r.gen()
		res := r.Reload()
		if !res.OK {
			t.Fatalf("step %d: the reload failed: %v\n%s", step, res.Diagnostics, src)
		}
		if !reflect.DeepEqual(res.Actions, planned) {
			t.Fatalf("step %d: the reload did\n%v\nthe plan said\n%v\n%s", step, res.Actions, planned, src)
		}
		after := r.gen()
		for _, a := range planned {
			old, tracked := component(before, a.Kind, a.Name)
			now, _ := component(after, a.Kind, a.Name)
			if !tracked || a.Action == composer.NeedsRestart {
				continue
			}
			ok := true
			switch a.Action {
			case composer.Add, composer.Replace:
				ok = now != nil && now != old
			case composer.Remove:
				ok = now == nil
			}
			if !ok {
				t.Errorf("step %d: %v, but the runner has %p before and %p after", step, a, old, now)
			}
		}
		checkDeliveries(t, step, after)
		// What the plan does not list is kept: the very object runs on.
		for _, c := range components(before) {
			if planned.Of(c[0], c[1]) != composer.Keep {
				continue
			}
			old, _ := component(before, c[0], c[1])
			now, _ := component(after, c[0], c[1])
			if old != now {
				t.Errorf("step %d: %s %s is kept by the plan, but the runner has %p before and %p after", step, c[0], c[1], old, now)
			}
			kept++
		}
	}
	if kept == 0 {
		t.Error("no component was kept: the test does not test keeping")
	}
}

// checkDeliveries: a generation delivers events to a service through the
// service's balancer and its events->NAME breaker, both the generation's
// own (a delivery kept from the last generation would run on stale ones).
func checkDeliveries(t *testing.T, step int, g *generation) {
	t.Helper()
	for name := range g.model.Services {
		b, hasBreaker := g.breakers[composer.EventBreaker(name)]
		d, e := g.deliveries[name], g.services[name]
		switch {
		case hasBreaker && e != nil && d == nil:
			t.Errorf("step %d: %s has an events breaker but no delivery", step, name)
		case d != nil && (e == nil || d.Balancer != e.balancer || d.Breaker != b):
			t.Errorf("step %d: the delivery to %s runs on another generation's balancer or breaker", step, name)
		}
	}
}

// components are the tracked components a generation runs (see
// component), by kind and name.
func components(g *generation) [][2]string {
	var out [][2]string
	for name := range g.breakers {
		out = append(out, [2]string{composer.KindBreaker, name})
	}
	for name := range g.instances {
		out = append(out, [2]string{composer.KindInstance, name})
	}
	for name, e := range g.services {
		if e.balancer != nil {
			out = append(out, [2]string{composer.KindBalancer, name})
		}
		if e.checker != nil {
			out = append(out, [2]string{composer.KindHealthCheck, name})
		}
	}
	for name := range g.processes {
		out = append(out, [2]string{composer.KindProcess, name})
	}
	for name := range g.routes {
		out = append(out, [2]string{composer.KindEventRoute, name})
	}
	for name := range g.auth {
		out = append(out, [2]string{composer.KindAuth, name})
	}
	return out
}

// component is the running object of one component of a generation
// (nil: none), by what a Diff calls it; tracked is false for the kinds
// that every generation builds anew (services and routes, in the
// gateway's router) or that are not objects of a generation.
func component(g *generation, kind, name string) (_ any, tracked bool) {
	var v any
	switch kind {
	case composer.KindBreaker:
		v = g.breakers[name]
	case composer.KindInstance:
		v = g.instances[name]
	case composer.KindBalancer:
		if e := g.services[name]; e != nil {
			v = e.balancer
		}
	case composer.KindHealthCheck:
		if e := g.services[name]; e != nil && e.checker != nil {
			v = e.checker
		}
	case composer.KindProcess:
		v = g.processes[name]
	case composer.KindEventRoute:
		v = g.routes[name]
	case composer.KindAuth:
		v = g.auth[name]
	default:
		return nil, false
	}
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.IsNil() {
		return nil, true
	}
	return v, true
}

// TestReloadRenewsWhatAChangedBreakerServes: an edit of a service's
// breaker block alone replaces its breakers (its own and events->NAME)
// and nothing else of the service; the deliveries of events to it, kept
// from the last generation otherwise, run on the new breaker.
func TestReloadRenewsWhatAChangedBreakerServes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.tsk")
	platform := func(recovery string) string {
		return fmt.Sprintf("[composer]\nname: \"t\"\nlisten: \"127.0.0.1:0\"\nadmin: \"127.0.0.1:0\"\ndata_dir: %q\n\n"+
			"[services]\nbilling { kind: \"http\", instances: [\"http://127.0.0.1:1\"], routes: [\"/billing\"] }\n\n"+
			"[circuit_breaker]\nbilling { recovery_timeout: %q }\n\n"+
			"[event_routes]\nbill { topic: \"order.created\", to: [\"billing\"] }\n", filepath.Join(dir, "data"), recovery)
	}
	os.WriteFile(file, []byte(platform("10s")), 0o644)
	r := startFile(t, file)
	before := r.gen()
	checkDeliveries(t, 0, before)
	os.WriteFile(file, []byte(platform("20s")), 0o644)
	if res := r.Reload(); !res.OK {
		t.Fatalf("the reload failed: %v", res.Diagnostics)
	}
	after := r.gen()
	checkDeliveries(t, 1, after)
	if after.breakers["events->billing"] == before.breakers["events->billing"] {
		t.Error("the events->billing breaker was kept: its settings changed")
	}
	if after.services["billing"] != before.services["billing"] {
		t.Error("billing's balancer and health check were made again: only its breakers changed")
	}
}
