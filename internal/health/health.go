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
	"net/http"
	"sync"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
)

// Settings configure the checks of one service.
type Settings struct {
	Interval         time.Duration // between probes (default 5s)
	Timeout          time.Duration // of one probe (default 1s)
	Retries          int           // consecutive failures before unhealthy (default 3)
	HealthyThreshold int           // consecutive passes before healthy again (default 1)
	Path             string        // probed path (default /health)
}

func (s Settings) withDefaults() Settings {
	if s.Interval <= 0 {
		s.Interval = 5 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = time.Second
	}
	if s.Retries <= 0 {
		s.Retries = 3
	}
	if s.HealthyThreshold <= 0 {
		s.HealthyThreshold = 1
	}
	if s.Path == "" {
		s.Path = "/health"
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

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a checker; it probes nothing until Start.
func New(s Settings, probe Probe) *Checker {
	return &Checker{settings: s.withDefaults(), probe: probe, after: time.After}
}

// Settings returns the checker's settings, defaults filled in.
func (c *Checker) Settings() Settings { return c.settings }

// Start probes each instance at once and then every Interval, until ctx
// ends or Stop is called.
func (c *Checker) Start(ctx context.Context, instances []*balancer.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, c.cancel = context.WithCancel(ctx)
	for _, in := range instances {
		c.wg.Add(1)
		go c.run(ctx, in)
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
			if in.Health() == balancer.Unknown || passes >= c.settings.HealthyThreshold {
				in.SetHealth(balancer.Healthy)
			}
		}
		if c.observe != nil {
			c.observe(in, err, in.Health())
		}
		select {
		case <-ctx.Done():
			return
		case <-c.after(c.settings.Interval):
		}
	}
}
