package registry

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// clock is a settable time for the registry's TTLs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newServer is a registry behind its API on loopback, with the services
// billing and search, a settable clock, and a Consul client of it.
func newServer(t *testing.T) (*Registry, *clock, *consul.Client) {
	t.Helper()
	r := New()
	clk := &clock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	r.now = clk.now
	r.Known = func() []string { return []string{"billing", "search"} }
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	cfg := consul.DefaultConfig()
	cfg.Address = strings.TrimPrefix(srv.URL, "http://")
	c, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, clk, c
}

// TestConsulClient: hashicorp/consul/api registers an instance with a
// TTL check, passes it, watches the service's health with a blocking
// query, and deregisters; the TTL is reaped to critical, and a long
// critical instance removed.
func TestConsulClient(t *testing.T) {
	r, clk, c := newServer(t)
	agent, health := c.Agent(), c.Health()
	reg := &consul.AgentServiceRegistration{ID: "billing-1", Name: "billing", Address: "127.0.0.1", Port: 7001,
		Tags: []string{"v2"}, Meta: map[string]string{"version": "2.1.0"},
		Check: &consul.AgentServiceCheck{TTL: "10s", DeregisterCriticalServiceAfter: "90s"}}
	if err := agent.ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	entries, meta, err := health.Service("billing", "", true, nil)
	if err != nil || len(entries) != 0 {
		t.Fatalf("passing before the first pass: %v %v", entries, err)
	}
	// A watcher, blocked until the instance passes.
	type result struct {
		entries []*consul.ServiceEntry
		err     error
	}
	watched := make(chan result, 1)
	go func() {
		e, _, err := health.Service("billing", "", true, &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 10 * time.Second})
		watched <- result{e, err}
	}()
	time.Sleep(50 * time.Millisecond) // the watcher is waiting
	if err := agent.PassTTL("service:billing-1", "ok"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-watched:
		if got.err != nil || len(got.entries) != 1 || got.entries[0].Service.Port != 7001 || got.entries[0].Service.Meta["version"] != "2.1.0" ||
			got.entries[0].Checks[0].Status != "passing" {
			t.Fatalf("the watch after the pass: %+v %v", got.entries, got.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking query did not return on the change")
	}
	if own, err := agent.Services(); err != nil || own["billing-1"] == nil || own["billing-1"].Port != 7001 {
		t.Errorf("agent services: %v %v", own, err)
	}
	if checks, err := agent.Checks(); err != nil || checks["service:billing-1"] == nil || checks["service:billing-1"].Status != "passing" {
		t.Errorf("agent checks: %v %v", checks, err)
	}
	if leader, err := c.Status().Leader(); err != nil || leader == "" {
		t.Errorf("status leader: %q %v", leader, err)
	}
	if self, err := agent.Self(); err != nil || self["Config"]["NodeName"] != "composer" {
		t.Errorf("agent self: %v %v", self, err)
	}
	services, _, err := c.Catalog().Services(nil)
	if err != nil || len(services["billing"]) != 1 || services["billing"][0] != "v2" {
		t.Errorf("catalog services: %v %v", services, err)
	}
	// The TTL passes without a beat: critical, out of ?passing.
	clk.add(11 * time.Second)
	r.Reap()
	if entries, _, _ := health.Service("billing", "", true, nil); len(entries) != 0 {
		t.Errorf("passing after the TTL: %d", len(entries))
	}
	if entries, _, _ := health.Service("billing", "", false, nil); len(entries) != 1 || entries[0].Checks[0].Status != "critical" {
		t.Errorf("all after the TTL: %+v", entries)
	}
	// A beat brings it back; UpdateTTL with a status works too.
	if err := agent.UpdateTTL("service:billing-1", "fine", consul.HealthPassing); err != nil {
		t.Fatal(err)
	}
	if entries, _, _ := health.Service("billing", "", true, nil); len(entries) != 1 {
		t.Errorf("after UpdateTTL: %d passing", len(entries))
	}
	// Critical for longer than DeregisterCriticalServiceAfter: removed.
	clk.add(11 * time.Second)
	r.Reap()
	clk.add(91 * time.Second)
	r.Reap()
	if all := r.All(); len(all) != 0 {
		t.Errorf("after 90 s critical: %+v", all)
	}
	// An unknown check is a 404, which tells a client to register again.
	if err := agent.PassTTL("service:billing-1", ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a pass of a removed check: %v", err)
	}
	// Register again, then deregister.
	if err := agent.ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	if err := agent.ServiceDeregister("billing-1"); err != nil {
		t.Fatal(err)
	}
	if all := r.All(); len(all) != 0 {
		t.Errorf("after the deregistration: %+v", all)
	}
}

// TestRefusals: a name the platform does not list, bad checks, bad ports.
func TestRefusals(t *testing.T) {
	_, _, c := newServer(t)
	for _, tc := range []struct {
		reg  consul.AgentServiceRegistration
		want string
	}{
		{consul.AgentServiceRegistration{Name: "biling", Port: 1}, `unknown service "biling": instances register under billing, search`},
		{consul.AgentServiceRegistration{Name: "billing"}, "port 0 is not 1 to 65535"},
		{consul.AgentServiceRegistration{Name: "billing", Port: 1, Check: &consul.AgentServiceCheck{TTL: "soon"}}, `TTL "soon" is not a duration`},
		{consul.AgentServiceRegistration{Name: "billing", Port: 1, Check: &consul.AgentServiceCheck{HTTP: "http://127.0.0.1:1/health", Interval: "1s"}}, "register a TTL check"},
		{consul.AgentServiceRegistration{Name: "billing", Port: 1, Check: &consul.AgentServiceCheck{Notes: "x"}}, "TTL, HTTP, GRPC or TCP"},
	} {
		err := c.Agent().ServiceRegister(&tc.reg)
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want 400 %q", tc.reg, err, tc.want)
		}
	}
}

// TestRestore: an instance read back after a restart must beat again
// before it counts as passing.
func TestRestore(t *testing.T) {
	r, _, _ := newServer(t)
	in := &Instance{ID: "s1", Service: "search", Address: "127.0.0.1", Port: 7002, Checks: []*Check{{Kind: "ttl", TTL: 10 * time.Second, Status: Passing}}}
	if err := r.Register(in); err != nil {
		t.Fatal(err)
	}
	saved := r.All()[0]
	r2 := New()
	r2.Known = r.Known
	r2.Restore(&saved)
	if got, _ := r2.Service("search", true); len(got) != 0 {
		t.Errorf("a restored ttl instance passes before a beat: %+v", got)
	}
	if err := r2.UpdateCheck("service:s1", Passing, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := r2.Service("search", true); len(got) != 1 {
		t.Errorf("after the beat: %+v", got)
	}
}
