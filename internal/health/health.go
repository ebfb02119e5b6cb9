// Package health runs the active health checks of a service's instances.
//
// A new instance is unknown and is probed at once. One passing probe makes
// an unknown instance healthy; Retries consecutive failures make an instance
// unhealthy; HealthyThreshold consecutive passes make an unhealthy one
// healthy again. The thresholds in both directions keep one slow probe from
// flapping a service.
package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
)

// Settings configure the checks of one service. The JSON names are the
// platform file's keys.
type Settings struct {
	Interval         time.Duration `json:"interval"`          // between probes
	Timeout          time.Duration `json:"timeout"`           // of one probe
	Retries          int           `json:"retries"`           // consecutive failures before unhealthy
	HealthyThreshold int           `json:"healthy_threshold"` // consecutive passes before healthy again
	Path             string        `json:"path"`              // probed path
	// StartInterval is the time between probes of an instance that has
	// not passed one yet (a process starting), so that it is routable
	// soon after it listens.
	StartInterval time.Duration `json:"start_interval"`
	// StartPeriod is how long an instance that has not passed a probe yet
	// is probed every StartInterval (counted in the waits between its
	// probes); after it, every Interval, so that an instance that never
	// comes up is not probed ten times a second for ever.
	StartPeriod time.Duration `json:"start_period"`
	// Protocol is how an instance is asked: "http" (a GET of Path) or
	// "grpc" (grpc.health.v1.Health/Check about GRPCService, "" for the
	// whole server). A service's default is its own protocol's.
	Protocol    string `json:"protocol"`
	GRPCService string `json:"grpc_service"`
}

// Defaults are the settings of a check that sets nothing: the one place
// they are written (the platform's [health_checks] defaults are these).
var Defaults = Settings{
	Interval: 5 * time.Second, Timeout: time.Second, Retries: 3, HealthyThreshold: 1, Path: "/health",
	StartInterval: 100 * time.Millisecond, StartPeriod: time.Minute,
}

func (s Settings) withDefaults() Settings {
	if s.Interval <= 0 {
		s.Interval = Defaults.Interval
	}
	if s.Timeout <= 0 {
		s.Timeout = Defaults.Timeout
	}
	if s.Retries <= 0 {
		s.Retries = Defaults.Retries
	}
	if s.HealthyThreshold <= 0 {
		s.HealthyThreshold = Defaults.HealthyThreshold
	}
	if s.Path == "" {
		s.Path = Defaults.Path
	}
	if s.StartInterval <= 0 || s.StartInterval > s.Interval {
		s.StartInterval = min(Defaults.StartInterval, s.Interval)
	}
	if s.StartPeriod <= 0 {
		s.StartPeriod = Defaults.StartPeriod
	}
	return s
}

// Probe checks one instance once; nil means it passed.
type Probe func(ctx context.Context, in *balancer.Instance) error

// HTTPProbe returns a probe that GETs the instance's address plus path and
// passes on a 2xx or 3xx answer.
func HTTPProbe(client *http.Client, path string) Probe {
	return func(ctx context.Context, in *balancer.Instance) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Address+path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // read, the connection is kept
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("%s%s answered %s", in.Address, path, resp.Status)
		}
		return nil
	}
}

// Checker probes instances until it is stopped.
type Checker struct {
	settings Settings
	probe    Probe
	// after waits between probes (time.After unless a test replaces it).
	after func(time.Duration) <-chan time.Time
	// observe, when set, is told every probe's result (tests, metrics).
	observe func(in *balancer.Instance, err error, now balancer.Health)

	mu      sync.Mutex
	ctx     context.Context // set by Start
	cancel  context.CancelFunc
	probing map[*balancer.Instance]context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a checker; it probes nothing until Start.
func New(s Settings, probe Probe) *Checker {
	return &Checker{settings: s.withDefaults(), probe: probe, after: time.After}
}

// Settings returns the checker's settings, defaults filled in.
func (c *Checker) Settings() Settings { return c.settings }

// Start probes each instance at once, then every StartInterval until it
// passes a probe and every Interval after that, until ctx ends or Stop is
// called. Start is called once; Add and Remove change the instances.
func (c *Checker) Start(ctx context.Context, instances []*balancer.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.probing = map[*balancer.Instance]context.CancelFunc{}
	for _, in := range instances {
		c.addLocked(in)
	}
}

// Add starts probing an instance (a kept checker's new instance). It does
// nothing before Start, after Stop, or for an instance probed already.
func (c *Checker) Add(in *balancer.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil && c.ctx.Err() == nil {
		c.addLocked(in)
	}
}

func (c *Checker) addLocked(in *balancer.Instance) {
	if _, ok := c.probing[in]; ok {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.probing[in] = cancel
	c.wg.Add(1)
	go c.run(ctx, in)
}

// Remove stops probing an instance; it does not wait for a probe under
// way (whose result is dropped).
func (c *Checker) Remove(in *balancer.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cancel, ok := c.probing[in]; ok {
		cancel()
		delete(c.probing, in)
	}
}

// Stop ends the probes and waits for the ones under way.
func (c *Checker) Stop() {
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Checker) run(ctx context.Context, in *balancer.Instance) {
	defer c.wg.Done()
	var fails, passes int
	var waited time.Duration // between this instance's probes so far
	for {
		pctx, cancel := context.WithTimeout(ctx, c.settings.Timeout)
		err := c.probe(pctx, in)
		cancel()
		if ctx.Err() != nil {
			return // stopped during the probe: its result means nothing
		}
		if err != nil {
			passes = 0
			fails++
			if fails >= c.settings.Retries {
				in.SetHealth(balancer.Unhealthy)
			}
		} else {
			fails = 0
			passes++
			// The first pass of an instance that has never passed (unknown,
			// or a process held back until it answers) makes it healthy.
			if in.Health() == balancer.Unknown || !in.Passed() || passes >= c.settings.HealthyThreshold {
				in.SetHealth(balancer.Healthy)
			}
			in.MarkPassed()
		}
		if c.observe != nil {
			c.observe(in, err, in.Health())
		}
		wait := c.settings.Interval
		if !in.Passed() && waited < c.settings.StartPeriod {
			wait = c.settings.StartInterval
		}
		waited += wait
		select {
		case <-ctx.Done():
			return
		case <-c.after(wait):
		}
	}
}
