package composer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/supervisor"
)

// processGroup is the running instances of one `kind: "process"` service,
// with the balancer and health checker in front of them.
type processGroup struct {
	name    string
	svc     Service // the settings it runs with
	checks  health.Settings
	checked bool // health-checked over HTTP (it has routes or a health endpoint)
	procs   []*supervisor.Process
	entry   *serviceEntry

	// after, when set, is closed when the instances this group replaces
	// have stopped: they hold the same fixed ports.
	after chan struct{}
	// gone is closed when stop has stopped the instances.
	gone chan struct{}

	mu      sync.Mutex
	blocked string // why it was not started
	started bool
	stopped bool
}

// signals are the stop signals a platform file can name.
var signals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGHUP": syscall.SIGHUP,
	"SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// colors cycle over the services' log prefixes at a terminal.
var colors = []string{"36", "33", "32", "35", "34", "31", "96", "93", "92", "95"}

// newProcessGroup makes (does not start) the instances of a process
// service: their ports, their balancer, their health checker.
func (r *Runner) newProcessGroup(p *Platform, name string, color string) (*processGroup, error) {
	s := *p.Services[name]
	dir := s.Dir
	base := filepath.Dir(r.path)
	if dir == "" {
		dir = base
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	sig := syscall.SIGTERM
	if s.StopSignal != "" {
		sig = signals[strings.ToUpper(s.StopSignal)]
	}
	spec := supervisor.Spec{Service: name, Command: s.Command, Shell: s.Shell, Dir: dir, Env: s.Env, Restart: s.Restart,
		MaxRestarts: s.MaxRestarts, Backoff: s.RestartBackoff, StopSignal: sig, StopTimeout: s.StopTimeout}
	if spec.Restart == "" {
		spec.Restart = "on-failure"
	}
	n := max(s.Instances.Count, 1)
	hc := effectiveHealth(p, name)
	g := &processGroup{name: name, svc: s, checked: len(s.Routes) > 0 || s.HealthEndpoint != "", gone: make(chan struct{}),
		checks: health.Settings{Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries, HealthyThreshold: hc.HealthyThreshold, Path: hc.Path}}
	var out io.Writer = r.procOut
	var ins []*balancer.Instance
	for i := 0; i < n; i++ {
		port := s.Port + i
		if s.Port == 0 {
			var err error
			if port, err = supervisor.FreePort(); err != nil {
				return nil, err
			}
		}
		c := ""
		if r.procColor {
			c = color
		}
		proc := supervisor.New(spec, i+1, port, out, c)
		g.procs = append(g.procs, proc)
		in := balancer.NewInstance(fmt.Sprintf("http://127.0.0.1:%d", port))
		// A process is not there before it has started and passed a
		// probe: requests wait for it with a 503 of the gateway, which
		// no breaker counts, instead of connection errors, which open
		// the service's breaker before the process is up.
		if g.checked {
			in.SetHealth(balancer.Unhealthy)
		} else {
			in.SetHealth(balancer.Healthy)
		}
		ins = append(ins, in)
	}
	policy := s.LoadBalancer
	if policy == "" {
		policy = string(balancer.RoundRobin)
	}
	bal, err := balancer.New(balancer.Policy(policy), ins)
	if err != nil {
		return nil, err
	}
	g.entry = &serviceEntry{svc: s, checks: g.checks, balancer: bal}
	if g.checked {
		g.entry.checker = health.New(g.checks, health.HTTPProbe(&http.Client{}, g.checks.Path))
	}
	return g, nil
}

// start starts the instances and their health checks (not after stop).
func (g *processGroup) start(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped || g.started {
		return
	}
	g.started = true
	for _, p := range g.procs {
		p.Start()
	}
	if g.entry.checker != nil {
		g.entry.checker.Start(ctx, g.entry.balancer.Instances())
	}
}

// stop drains the instances' in-flight requests (up to 10 s) and stops
// them; a group not started yet never will be.
func (g *processGroup) stop(ctx context.Context) {
	g.mu.Lock()
	started, stopped := g.started, g.stopped
	g.stopped = true
	g.mu.Unlock()
	if stopped {
		<-g.gone
		return
	}
	defer close(g.gone)
	if !started {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range g.entry.balancer.Instances() {
		for in.InFlight() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if g.entry.checker != nil {
		g.entry.checker.Stop()
	}
	var wg sync.WaitGroup
	for _, p := range g.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop(ctx) }()
	}
	wg.Wait()
}

// condition reports whether the group meets a depends_on condition, and
// an error when it never will.
func (g *processGroup) condition(cond string) (bool, error) {
	g.mu.Lock()
	blocked := g.blocked
	g.mu.Unlock()
	if blocked != "" {
		return false, fmt.Errorf("%s was not started: %s", g.name, blocked)
	}
	failed := 0
	var last supervisor.Status
	for _, p := range g.procs {
		if st := p.Status(); st.State == supervisor.Failed {
			failed++
			last = st
		}
	}
	if failed == len(g.procs) || cond == "completed" && failed > 0 {
		return false, fmt.Errorf("%s failed: %s", g.name, last.Error)
	}
	count := func(ok func(supervisor.Status) bool) int {
		n := 0
		for _, p := range g.procs {
			if ok(p.Status()) {
				n++
			}
		}
		return n
	}
	switch cond {
	case "started":
		return count(func(s supervisor.Status) bool {
			return s.State == supervisor.Running || s.State == supervisor.Exited || s.Restarts > 0
		}) == len(g.procs), nil
	case "completed":
		return count(func(s supervisor.Status) bool { return s.State == supervisor.Exited }) == len(g.procs), nil
	}
	// healthy: at least one instance is.
	for i, in := range g.entry.balancer.Instances() {
		if in.Health() == balancer.Healthy && g.procs[i].Status().State == supervisor.Running {
			return true, nil
		}
	}
	return false, nil
}

// procStatus is one instance as `composer ps` shows it.
type procStatus struct {
	supervisor.Status
	Health  string `json:"health"`
	Uptime  string `json:"uptime,omitempty"`
	Blocked string `json:"blocked,omitempty"`
}

func (g *processGroup) statuses() []procStatus {
	g.mu.Lock()
	blocked, started := g.blocked, g.started
	g.mu.Unlock()
	var out []procStatus
	for i, p := range g.procs {
		st := procStatus{Status: p.Status(), Health: g.entry.balancer.Instances()[i].Health().String(), Blocked: blocked}
		if !started {
			st.State = "waiting"
		}
		if st.State == supervisor.Running && !st.Started.IsZero() {
			st.Uptime = time.Since(st.Started).Round(time.Second).String()
		}
		out = append(out, st)
	}
	return out
}

// startProcesses starts the process services of a generation in
// dependency order: each waits until its dependencies meet their
// conditions, in parallel where the graph allows. A service whose
// dependency never does is reported and not started.
func (r *Runner) startProcesses(g *generation) {
	for _, name := range sortedKeys(g.processes) {
		pg := g.processes[name]
		pg.mu.Lock()
		started := pg.started
		pg.mu.Unlock()
		if started {
			continue // carried over from the previous generation
		}
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			if pg.after != nil {
				select {
				case <-pg.after:
				case <-r.ctx.Done():
					return
				}
			}
			if err := r.waitDependencies(g, pg.svc.DependsOn); err != nil {
				pg.mu.Lock()
				pg.blocked = err.Error()
				pg.mu.Unlock()
				r.log.Error("process not started", "service", pg.name, "reason", err.Error())
				return
			}
			if r.ctx.Err() != nil {
				return
			}
			pg.start(r.ctx)
		}()
	}
}

// waitDependencies waits until every dependency meets its condition, or
// one cannot: it failed, or did not within its start_timeout (default
// 60 s).
func (r *Runner) waitDependencies(g *generation, deps Dependencies) error {
	for _, d := range deps {
		timeout := 60 * time.Second
		if s := g.platform.Services[d.Service]; s != nil && s.StartTimeout > 0 {
			timeout = s.StartTimeout
		}
		deadline := time.Now().Add(timeout)
		for {
			ok, err := r.meets(g, d)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s is not %s after %s", d.Service, d.Condition, timeout)
			}
			select {
			case <-r.ctx.Done():
				return r.ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// meets reports whether a dependency meets its condition now.
func (r *Runner) meets(g *generation, d Dependency) (bool, error) {
	if pg := g.processes[d.Service]; pg != nil {
		return pg.condition(d.Condition)
	}
	if e := g.services[d.Service]; e != nil && d.Condition == "healthy" {
		for _, in := range e.balancer.Instances() {
			if in.Health() == balancer.Healthy {
				return true, nil
			}
		}
		return false, nil
	}
	return true, nil // built-in services run from the start
}

// stopProcesses stops the process services of a generation, dependents
// before what they depend on.
func (r *Runner) stopProcesses(ctx context.Context, g *generation) {
	stopped := map[string]bool{}
	order := processOrder(g.platform, sortedKeys(g.processes))
	for i := len(order) - 1; i >= 0; i-- {
		if pg := g.processes[order[i]]; pg != nil && !stopped[order[i]] {
			stopped[order[i]] = true
			pg.stop(ctx)
		}
	}
}

// processOrder sorts services so that each comes after what it depends
// on (the graph has no cycles: validated).
func processOrder(p *Platform, names []string) []string {
	var out []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		if s := p.Services[n]; s != nil {
			for _, d := range s.DependsOn {
				visit(d.Service)
			}
		}
		out = append(out, n)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// prepareProcesses makes the process groups a platform needs and prev
// (nil at the first start) does not have. A service whose settings changed
// while it runs is started at once, and awaited until healthy (blue-green:
// its routes move to the new instances with the swap, and the old ones
// stop after it); when it is not healthy within its start_timeout, the
// reload fails and the old instances go on. Services that are new are
// made, not started: startProcesses starts them after the swap, in
// dependency order.
func (r *Runner) prepareProcesses(p *Platform, prev *generation) (map[string]*processGroup, error) {
	out := map[string]*processGroup{}
	var started []*processGroup
	fail := func(err error) (map[string]*processGroup, error) {
		for _, g := range started {
			g.stop(r.ctx)
		}
		return nil, err
	}
	for i, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if s.Kind != "process" {
			continue
		}
		var old *processGroup
		if prev != nil {
			old = prev.processes[name]
		}
		if old != nil && sameProcess(old.svc, *s) {
			continue // carried over by build
		}
		g, err := r.newProcessGroup(p, name, colors[i%len(colors)])
		if err != nil {
			return fail(fmt.Errorf("service %s: %w", name, err))
		}
		out[name] = g
		if old == nil {
			continue
		}
		old.mu.Lock()
		running := old.started
		old.mu.Unlock()
		if !running {
			continue
		}
		if s.Port != 0 {
			// Fixed ports: the new instances cannot run beside the
			// old ones. They start once the old ones have stopped,
			// after the swap; until they pass a probe, the gateway
			// answers 503 for the service.
			g.after = old.gone
			continue
		}
		g.start(r.ctx)
		started = append(started, g)
		timeout := 60 * time.Second
		if s.StartTimeout > 0 {
			timeout = s.StartTimeout
		}
		deadline := time.Now().Add(timeout)
		for {
			ok, err := g.condition("healthy")
			if err != nil {
				return fail(fmt.Errorf("service %s: the new instances: %w", name, err))
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return fail(fmt.Errorf("service %s: the new instances are not healthy after %s; the old ones go on", name, timeout))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out, nil
}

// sameProcess says whether a process service can keep running across a
// reload: what it runs did not change (its routes may).
func sameProcess(a, b Service) bool {
	a.Routes, b.Routes = nil, nil
	a.DependsOn, b.DependsOn = nil, nil
	return reflect.DeepEqual(a, b)
}

// processOutput is where the processes' lines go, and whether they are
// coloured (at a terminal).
func processOutput() (io.Writer, bool) {
	fi, err := os.Stderr.Stat()
	return os.Stderr, err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
