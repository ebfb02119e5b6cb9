package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/admin"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/health"
	"github.com/tuskcompose/composer/internal/supervisor"
)

// processGroup is the running instances of one `kind: "process"`
// service. The balancer in front of them belongs to the generation; the
// health checker that probes them may be shared with the group that
// replaces them (a kept health_check).
type processGroup struct {
	name      string
	spec      composer.ProcessSpec // what it runs
	deps      composer.Dependencies
	procs     []*supervisor.Process
	instances []*balancer.Instance // instances[i] is procs[i]'s address

	// after, when set, is closed when the instances this group replaces
	// have stopped: they hold the same fixed ports.
	after chan struct{}
	// gone is closed when stop has stopped the instances.
	gone chan struct{}

	mu      sync.Mutex
	check   *health.Checker // probing the instances once started; nil: not checked
	blocked string          // why it was not started
	started bool
	stopped bool
}

// colors cycle over the services' log prefixes at a terminal.
var colors = []string{"36", "33", "32", "35", "34", "31", "96", "93", "92", "95"}

// newProcessGroup makes (does not start) the instances of a process
// service, with their ports; check (nil when not health-checked) will
// probe them once they start.
func (r *Runner) newProcessGroup(s *composer.ResolvedService, name string, color string, check *health.Checker) (*processGroup, error) {
	ps := s.Process
	vars, err := r.meshVars(name, ps.Calls)
	if err != nil {
		return nil, err
	}
	spec := supervisor.Spec{Service: name, Command: ps.Command, Shell: ps.Shell, Dir: ps.Dir, Env: ps.Env, Restart: ps.Restart, Vars: vars,
		MaxRestarts: ps.MaxRestarts, Backoff: ps.RestartBackoff, StopSignal: ps.Signal(), StopTimeout: ps.StopTimeout,
		RunID: r.runID}
	g := &processGroup{name: name, spec: *ps, deps: s.DependsOn, gone: make(chan struct{}), check: check}
	for i := 0; i < ps.Copies; i++ {
		port := ps.Port + i
		if ps.Port == 0 {
			var err error
			if port, err = supervisor.FreePort(); err != nil {
				return nil, err
			}
		}
		c := ""
		if r.procColor {
			c = color
		}
		g.procs = append(g.procs, supervisor.New(spec, i+1, port, r.procOut, c))
		in := balancer.NewInstance(fmt.Sprintf("http://127.0.0.1:%d", port))
		// A process is not there before it has started and passed a
		// probe: requests wait for it with a 503 of the gateway, which
		// no breaker counts, instead of connection errors, which open
		// the service's breaker before the process is up.
		if check != nil {
			in.SetHealth(balancer.Unhealthy)
		} else {
			in.SetHealth(balancer.Healthy)
		}
		g.instances = append(g.instances, in)
	}
	return g, nil
}

// checker is the health checker probing the group (nil: none).
func (g *processGroup) checker() *health.Checker {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.check
}

// useChecker moves the group's instances to another checker (a reload
// changed the service's health checks); nil means not checked, and makes
// the instances routable.
func (g *processGroup) useChecker(c *health.Checker) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.check
	g.check = c
	if !g.started || g.stopped {
		return
	}
	for _, in := range g.instances {
		if old != nil {
			old.Remove(in)
		}
		if c != nil {
			c.Add(in)
		} else {
			in.SetHealth(balancer.Healthy)
		}
	}
}

// start starts the instances and their health checks (not after stop).
func (g *processGroup) start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped || g.started {
		return
	}
	g.started = true
	for _, p := range g.procs {
		p.Start()
	}
	if g.check != nil {
		for _, in := range g.instances {
			g.check.Add(in)
		}
	}
}

// stop drains the instances' in-flight requests (up to 10 s) and stops
// them; a group not started yet never will be.
func (g *processGroup) stop(ctx context.Context) {
	g.mu.Lock()
	started, stopped, check := g.started, g.stopped, g.check
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
	for _, in := range g.instances {
		for in.InFlight() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if check != nil {
		for _, in := range g.instances {
			check.Remove(in)
		}
	}
	var wg sync.WaitGroup
	for _, p := range g.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop(ctx) }()
	}
	wg.Wait()
}

// changes are channels of which one is closed at the group's next change
// of state or health.
func (g *processGroup) changes() []<-chan struct{} {
	var out []<-chan struct{}
	for i, p := range g.procs {
		out = append(out, p.Changed(), g.instances[i].Changed())
	}
	return out
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
	for i, in := range g.instances {
		if in.Health() == balancer.Healthy && g.procs[i].Status().State == supervisor.Running {
			return true, nil
		}
	}
	return false, nil
}

// waitFor waits until check reports true or an error, or the deadline or
// ctx ends, waking at every change of what changes returns (no polling).
func waitFor(ctx context.Context, deadline time.Time, check func() (bool, error), changes func() []<-chan struct{}) (bool, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		chans := changes() // taken before the check, so no change is missed
		ok, err := check()
		if ok || err != nil {
			return ok, err
		}
		cases := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		}
		for _, c := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
		}
		switch i, _, _ := reflect.Select(cases); i {
		case 0:
			return false, ctx.Err()
		case 1:
			return false, nil
		}
	}
}

// statuses are the group's instances as `composer ps` shows them.
func (g *processGroup) statuses() []admin.Process {
	g.mu.Lock()
	blocked, started := g.blocked, g.started
	g.mu.Unlock()
	var out []admin.Process
	for i, p := range g.procs {
		st := admin.Process{Status: p.Status(), Health: g.instances[i].Health().String(), Blocked: blocked}
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

// startProcesses starts the process services of a generation that are
// not started yet, in dependency order: each waits until its
// dependencies meet their conditions, in parallel where the graph
// allows. A service whose dependency never does is reported and not
// started.
func (r *Runner) startProcesses(g *generation) {
	for _, name := range sortedKeys(g.processes) {
		pg := g.processes[name]
		pg.mu.Lock()
		started := pg.started
		pg.mu.Unlock()
		if started {
			continue // carried over, or started by prepareProcesses
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
			if err := r.waitDependencies(g, pg.deps); err != nil {
				pg.mu.Lock()
				pg.blocked = err.Error()
				pg.mu.Unlock()
				r.log.Error("process not started", "service", pg.name, "reason", err.Error())
				return
			}
			if r.ctx.Err() != nil {
				return
			}
			pg.start()
		}()
	}
}

// waitDependencies waits until every dependency meets its condition, or
// one cannot: it failed, or did not within its start_timeout.
func (r *Runner) waitDependencies(g *generation, deps composer.Dependencies) error {
	for _, d := range deps {
		timeout := composer.DefaultStartTimeout
		if s := g.model.Services[d.Service]; s != nil {
			timeout = s.StartTimeout
		}
		ok, err := waitFor(r.ctx, time.Now().Add(timeout), func() (bool, error) { return r.meets(g, d) },
			func() []<-chan struct{} { return r.dependencyChanges(g, d.Service) })
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%s is not %s after %s", d.Service, d.Condition, timeout)
		}
	}
	return nil
}

// dependencyChanges are the channels that announce a change of a
// dependency's state.
func (r *Runner) dependencyChanges(g *generation, name string) []<-chan struct{} {
	if pg := g.processes[name]; pg != nil {
		return pg.changes()
	}
	var out []<-chan struct{}
	if e := g.services[name]; e != nil {
		for _, in := range e.balancer.Instances() {
			out = append(out, in.Changed())
		}
	}
	return out
}

// meets reports whether a dependency meets its condition now.
func (r *Runner) meets(g *generation, d composer.Dependency) (bool, error) {
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
	order := processOrder(g.model, sortedKeys(g.processes))
	for i := len(order) - 1; i >= 0; i-- {
		if pg := g.processes[order[i]]; pg != nil && !stopped[order[i]] {
			stopped[order[i]] = true
			pg.stop(ctx)
		}
	}
}

// processOrder sorts services so that each comes after what it depends
// on (the graph has no cycles: validated).
func processOrder(m *composer.Resolved, names []string) []string {
	var out []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		if s := m.Services[n]; s != nil {
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

// prepareProcesses makes the process groups that acts adds or replaces.
// A replaced service that is running is started at once and awaited
// until healthy (blue-green: its routes move to the new instances with
// the swap, and the old ones stop after it); when it is not healthy
// within its start_timeout, the reload fails and the old instances go
// on. Added services are made, not started: startProcesses starts them
// after the swap, in dependency order.
func (r *Runner) prepareProcesses(m *composer.Resolved, prev *generation, acts composer.Actions) (map[string]*processGroup, error) {
	out := map[string]*processGroup{}
	var made []*health.Checker // checkers made here, stopped if the reload fails
	fail := func(err error) (map[string]*processGroup, error) {
		for _, g := range out {
			g.stop(r.ctx)
		}
		for _, c := range made {
			c.Stop()
		}
		return nil, err
	}
	for i, name := range m.ServiceNames() {
		s := m.Services[name]
		if s.Kind != "process" {
			continue
		}
		act := acts.Of(composer.KindProcess, name)
		if act == composer.Keep {
			continue
		}
		var check *health.Checker
		if s.Health != nil {
			if prev != nil && acts.Of(composer.KindHealthCheck, name) == composer.Keep {
				check = prev.services[name].checker
			} else {
				check = health.New(*s.Health, r.probe(s))
				check.Start(r.ctx, nil)
				made = append(made, check)
			}
		}
		g, err := r.newProcessGroup(s, name, colors[i%len(colors)], check)
		if err != nil {
			return fail(fmt.Errorf("service %s: %w", name, err))
		}
		out[name] = g
		if act != composer.Replace {
			continue
		}
		old := prev.processes[name]
		old.mu.Lock()
		running := old.started
		old.mu.Unlock()
		if !running {
			continue
		}
		if s.Process.Port != 0 {
			// Fixed ports: the new instances cannot run beside the
			// old ones. They start once the old ones have stopped,
			// after the swap; until they pass a probe, the gateway
			// answers 503 for the service.
			g.after = old.gone
			continue
		}
		g.start()
		ok, err := waitFor(r.ctx, time.Now().Add(s.StartTimeout), func() (bool, error) { return g.condition("healthy") }, g.changes)
		switch {
		case err != nil:
			return fail(fmt.Errorf("service %s: the new instances: %w", name, err))
		case !ok:
			return fail(fmt.Errorf("service %s: the new instances are not healthy after %s; the old ones go on", name, s.StartTimeout))
		}
	}
	return out, nil
}

// processOutput is where the processes' lines go, and whether they are
// coloured (at a terminal).
func processOutput() (io.Writer, bool) {
	fi, err := os.Stderr.Stat()
	return os.Stderr, err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
