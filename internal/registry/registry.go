// Package registry keeps the instances that register themselves at run
// time, in the shape of Consul's agent API (api.go), so that existing
// Consul clients work unchanged: an instance registers under a service
// name with an address, a port, tags, meta and checks; a TTL check must
// be passed before its deadline or the instance goes critical (out of the
// balancer), and one critical for longer than its
// DeregisterCriticalServiceAfter is removed. Every change bumps the
// registry's index, which blocking queries wait on.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// The states of a check and of an instance (its worst check's).
const (
	Passing  = "passing"
	Warning  = "warning"
	Critical = "critical"
)

// MinDeregisterAfter is the shortest DeregisterCriticalServiceAfter, as
// Consul's (a shorter one is raised to it).
const MinDeregisterAfter = time.Minute

// Instance is one registered instance.
type Instance struct {
	ID      string            `json:"id"`
	Service string            `json:"service"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Tags    []string          `json:"tags,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Checks  []*Check          `json:"checks,omitempty"`
	// Registered is when it (last) registered.
	Registered time.Time `json:"registered"`
	// Stamp is when it last changed or beat: of two copies (from two
	// composers), the later stamp wins.
	Stamp time.Time `json:"stamp"`
}

// Check is one of an instance's checks.
type Check struct {
	ID     string `json:"id"` // "service:<instance id>" for its first, as Consul names it
	Name   string `json:"name"`
	Kind   string `json:"kind"`             // ttl | http | grpc | tcp
	Target string `json:"target,omitempty"` // http: the URL; grpc, tcp: the address
	// TTL is how long a ttl check stays passing after a pass.
	TTL      time.Duration `json:"ttl,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
	// DeregisterAfter removes the instance once the check has been
	// critical that long (0: never).
	DeregisterAfter time.Duration `json:"deregister_after,omitempty"`
	Status          string        `json:"status"`
	Output          string        `json:"output,omitempty"`
	// Deadline is when a ttl check goes critical without a pass.
	Deadline time.Time `json:"deadline,omitempty"`
	// CriticalSince is when it went critical (zero while it is not).
	CriticalSince time.Time `json:"critical_since,omitempty"`
	// Updated is when its status was last set (a heartbeat for ttl).
	Updated time.Time `json:"updated"`
}

// Status is an instance's state: its worst check's (passing without
// checks).
func (in *Instance) Status() string {
	st := Passing
	for _, c := range in.Checks {
		switch {
		case c.Status == Critical:
			return Critical
		case c.Status == Warning:
			st = Warning
		}
	}
	return st
}

// URL is the instance's URL for the gateway.
func (in *Instance) URL() string {
	host := in.Address
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%d", host, in.Port)
}

// Errors of the registry, each a 4xx of the API.
var (
	// ErrUnknownService: the platform has no service of that name with
	// discovery: "registry".
	ErrUnknownService = errors.New("unknown service")
	// ErrUnknownCheck: no registered instance has that check (a client
	// registers again on it).
	ErrUnknownCheck = errors.New("unknown check")
	// ErrUnknownInstance: no registered instance has that id.
	ErrUnknownInstance = errors.New("unknown service instance")
)

// Registry is the registered instances. Safe for concurrent use.
type Registry struct {
	// Known lists the services instances may register under (set before
	// use; read at each registration).
	Known func() []string
	// Saved is told of every change to an instance (nil: deleted), for
	// the store; Replicated of every change and every heartbeat, for the
	// other composers (not of what Apply brings from them). Either may be
	// nil. Both are called with the registry's lock held: they must not
	// call back into it.
	Saved      func(id string, in *Instance)
	Replicated func(id string, in *Instance, stamp time.Time)
	// Probe runs a check of kind http, grpc or tcp against its target
	// once, within ctx (nil: such checks are refused at registration).
	// Its error's text is the check's output.
	Probe func(ctx context.Context, kind, target string) error
	now   func() time.Time

	mu        sync.Mutex
	probing   map[string]context.CancelFunc // the probes of an instance's checks, by its id
	instances map[string]*Instance
	checks    map[string]*Instance // by check id
	index     uint64
	changed   chan struct{} // closed and replaced at each change
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{now: time.Now, instances: map[string]*Instance{}, checks: map[string]*Instance{}, index: 1,
		changed: make(chan struct{}), probing: map[string]context.CancelFunc{}}
}

// change bumps the index and wakes the blocking queries. Called with mu
// held.
func (r *Registry) change(id string) {
	r.changed0(id)
	if r.Replicated != nil {
		r.Replicated(id, r.instances[id], r.now())
	}
}

// changed0 is change without the replication (a change that came from
// another composer). Called with mu held.
func (r *Registry) changed0(id string) {
	r.index++
	close(r.changed)
	r.changed = make(chan struct{})
	if in := r.instances[id]; in != nil {
		in.Stamp = r.now()
	}
	if r.Saved != nil {
		r.Saved(id, r.instances[id])
	}
}

// Register adds or replaces an instance (by its id, which defaults to
// its service's name). Its checks start critical unless registered with
// a status, as Consul's do; a ttl check's deadline starts now.
func (r *Registry) Register(in *Instance) error {
	if !slices.Contains(r.known(), in.Service) {
		return fmt.Errorf("%w %q: instances register under %s", ErrUnknownService, in.Service, knownList(r.known()))
	}
	if in.ID == "" {
		in.ID = in.Service
	}
	now := r.now()
	in.Registered = now
	for i, c := range in.Checks {
		if c.ID == "" {
			c.ID = "service:" + in.ID
			if i > 0 {
				c.ID = fmt.Sprintf("service:%s:%d", in.ID, i+1)
			}
		}
		if c.Status == "" {
			c.Status = Critical
		}
		if c.DeregisterAfter > 0 && c.DeregisterAfter < MinDeregisterAfter {
			c.DeregisterAfter = MinDeregisterAfter
		}
		c.Updated = now
		if c.Kind == "ttl" {
			c.Deadline = now.Add(c.TTL)
		}
		if c.Status == Critical {
			c.CriticalSince = now
		}
	}
	for _, c := range in.Checks {
		if c.Kind != "ttl" && r.Probe == nil {
			return fmt.Errorf("%s checks are not run here: register a TTL check", strings.ToUpper(c.Kind))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range in.Checks {
		if other := r.checks[c.ID]; other != nil && other.ID != in.ID {
			return fmt.Errorf("check %q belongs to instance %q", c.ID, other.ID)
		}
	}
	if old := r.instances[in.ID]; old != nil {
		for _, c := range old.Checks {
			delete(r.checks, c.ID)
		}
	}
	r.instances[in.ID] = in
	for _, c := range in.Checks {
		r.checks[c.ID] = in
	}
	r.change(in.ID)
	r.startProbes(in)
	return nil
}

// startProbes runs an instance's http, grpc and tcp checks, every
// Interval, each probe bounded by its Timeout (default: the interval, at
// most 10 s), until the instance goes or Stop. Called with mu held.
func (r *Registry) startProbes(in *Instance) {
	if cancel := r.probing[in.ID]; cancel != nil {
		cancel()
		delete(r.probing, in.ID)
	}
	if r.Probe == nil {
		return
	}
	var ctx context.Context
	for _, c := range in.Checks {
		if c.Kind == "ttl" || c.Interval <= 0 {
			continue
		}
		if ctx == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(context.Background())
			r.probing[in.ID] = cancel
		}
		id, kind, target, every := c.ID, c.Kind, c.Target, c.Interval
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = min(every, 10*time.Second)
		}
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				pctx, cancel := context.WithTimeout(ctx, timeout)
				err := r.Probe(pctx, kind, target)
				cancel()
				if ctx.Err() != nil {
					return
				}
				status, output := Passing, "ok"
				if err != nil {
					status, output = Critical, err.Error()
				}
				r.UpdateCheck(id, status, output)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// Stop ends every check's probes.
func (r *Registry) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, cancel := range r.probing {
		cancel()
		delete(r.probing, id)
	}
}

func (r *Registry) known() []string {
	if r.Known == nil {
		return nil
	}
	return r.Known()
}

func knownList(names []string) string {
	if len(names) == 0 {
		return "no service: none has discovery: \"registry\""
	}
	return strings.Join(names, ", ")
}

// Deregister removes an instance.
func (r *Registry) Deregister(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.instances[id]
	if in == nil {
		return fmt.Errorf("%w %q", ErrUnknownInstance, id)
	}
	r.remove(in)
	return nil
}

// remove drops an instance. Called with mu held.
func (r *Registry) remove(in *Instance) {
	if cancel := r.probing[in.ID]; cancel != nil {
		cancel()
		delete(r.probing, in.ID)
	}
	for _, c := range in.Checks {
		delete(r.checks, c.ID)
	}
	delete(r.instances, in.ID)
	r.change(in.ID)
}

// UpdateCheck sets a check's status (a ttl check's heartbeat: passing
// moves its deadline on).
func (r *Registry) UpdateCheck(checkID, status, output string) error {
	switch status {
	case Passing, Warning, Critical:
	default:
		return fmt.Errorf("status %q is not passing, warning or critical", status)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.checks[checkID]
	if in == nil {
		return fmt.Errorf("%w %q", ErrUnknownCheck, checkID)
	}
	now := r.now()
	for _, c := range in.Checks {
		if c.ID != checkID {
			continue
		}
		was := c.Status
		c.Status, c.Output, c.Updated = status, output, now
		if c.Kind == "ttl" {
			c.Deadline = now.Add(c.TTL)
		}
		switch {
		case status == Critical && was != Critical:
			c.CriticalSince = now
		case status != Critical:
			c.CriticalSince = time.Time{}
		}
		if was != status {
			r.change(in.ID)
		} else if r.Replicated != nil {
			// A heartbeat that changes nothing is not saved (after a
			// restart a ttl instance must beat again anyway), but the
			// other composers take its new deadline.
			in.Stamp = now
			r.Replicated(in.ID, in, now)
		}
	}
	return nil
}

// Reap turns the ttl checks past their deadline critical and removes
// the instances critical for longer than their checks allow. The runner
// calls it every second.
func (r *Registry) Reap() {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, in := range r.instances {
		changed := false
		for _, c := range in.Checks {
			if c.Kind == "ttl" && c.Status != Critical && now.After(c.Deadline) {
				c.Status, c.Output, c.CriticalSince = Critical, "TTL expired", now
				changed = true
			}
		}
		for _, c := range in.Checks {
			if c.Status == Critical && c.DeregisterAfter > 0 && !c.CriticalSince.IsZero() && now.Sub(c.CriticalSince) > c.DeregisterAfter {
				r.remove(in)
				changed = false
				break
			}
		}
		if changed {
			r.change(in.ID)
		}
	}
}

// Restore puts back an instance read from the store: its ttl checks are
// critical until they beat again, and its critical time starts now.
func (r *Registry) Restore(in *Instance) {
	now := r.now()
	for _, c := range in.Checks {
		if c.Kind == "ttl" {
			c.Status, c.Output, c.CriticalSince, c.Deadline = Critical, "restarted: waiting for a heartbeat", now, now
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[in.ID] = in
	for _, c := range in.Checks {
		r.checks[c.ID] = in
	}
	r.index++
	r.startProbes(in)
}

// Apply takes an instance as another composer has it (nil: removed
// there, at stamp): kept when it is newer than the copy here, saved, not
// replicated again.
func (r *Registry) Apply(id string, in *Instance, stamp time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	local := r.instances[id]
	if local != nil && !stamp.After(local.Stamp) {
		return // this copy is as new or newer
	}
	if local != nil {
		for _, c := range local.Checks {
			delete(r.checks, c.ID)
		}
		delete(r.instances, id)
	}
	if in != nil {
		if !slices.Contains(r.known(), in.Service) {
			return // a service this platform does not have as a registry service
		}
		in.Stamp = stamp
		r.instances[id] = in
		for _, c := range in.Checks {
			r.checks[c.ID] = in
		}
	} else if local == nil {
		return
	}
	r.index++
	close(r.changed)
	r.changed = make(chan struct{})
	if r.Saved != nil {
		r.Saved(id, r.instances[id])
	}
}

// Service is a service's instances, in id order, each a copy; passing
// keeps only those whose checks all pass (warning too, as Consul's
// ?passing does not).
func (r *Registry) Service(name string, passing bool) ([]Instance, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Instance
	for _, in := range r.instances {
		if in.Service == name && (!passing || in.Status() == Passing) {
			out = append(out, copyInstance(in))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, r.index
}

// Services are the registered services' names with their tags.
func (r *Registry) Services() (map[string][]string, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, in := range r.instances {
		tags := out[in.Service]
		for _, t := range in.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		sort.Strings(tags)
		if tags == nil {
			tags = []string{}
		}
		out[in.Service] = tags
	}
	return out, r.index
}

// All are every registered instance, copies.
func (r *Registry) All() []Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Instance
	for _, in := range r.instances {
		out = append(out, copyInstance(in))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func copyInstance(in *Instance) Instance {
	c := *in
	c.Checks = nil
	for _, ch := range in.Checks {
		cc := *ch
		c.Checks = append(c.Checks, &cc)
	}
	return c
}

// Wait blocks until the index is past index, ctx ends, or wait passes
// (Consul's blocking query), and returns the index then.
func (r *Registry) Wait(ctx context.Context, index uint64, wait time.Duration) uint64 {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		r.mu.Lock()
		cur, ch := r.index, r.changed
		r.mu.Unlock()
		if cur > index {
			return cur
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cur
		case <-t.C:
			return cur
		}
	}
}

// Changed returns a channel that is closed at the next change (for the
// runner, which rebalances the services of the instances that changed).
func (r *Registry) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}
