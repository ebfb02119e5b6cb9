package runner

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// TestRegistryInstances: an instance registers with the real Consul
// client at the admin address and is served through the gateway; without
// heartbeats it leaves the balancer once its TTL passes; it comes back by
// registering again, is gone when deregistered, and its registration
// survives a reload of the file and a restart (where it must beat again).
func TestRegistryInstances(t *testing.T) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "billed") }))
	t.Cleanup(inst.Close)
	host, portText, _ := net.SplitHostPort(inst.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	extra := `
[services]
billing { kind: "http", discovery: "registry", routes: ["/billing/*path"] }
`
	p := startPlatform(t, extra)
	client := func(r *running) *consul.Client {
		cfg := consul.DefaultConfig()
		cfg.Address = r.r.AdminAddr()
		c, err := consul.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := client(p)
	gw := func() string { return "http://" + p.r.GatewayAddr() + "/billing/1" }
	served := func() bool { status, body := call(t, "GET", gw(), ""); return status == 200 && body == "billed" }
	register := func() {
		t.Helper()
		if err := c.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "billing-1", Name: "billing", Address: host, Port: port,
			Check: &consul.AgentServiceCheck{TTL: "2s", Status: "passing"}}); err != nil {
			t.Fatal(err)
		}
	}
	if status, _ := call(t, "GET", gw(), ""); status != 503 {
		t.Fatalf("before any registration: %d", status)
	}
	if err := c.Agent().ServiceRegister(&consul.AgentServiceRegistration{Name: "biling", Port: port}); err == nil {
		t.Error("a registration under an unknown name was taken")
	}
	register()
	eventually(t, "the registered instance served", served)

	// A reload of the file keeps it.
	p.rewrite(t, extra+"audit { kind: \"http\", instances: [\"http://127.0.0.1:1\"] }\n")
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	for _, a := range p.r.Status().LastReload.Actions {
		if a.Kind == "instance" && a.Action == "remove" {
			t.Errorf("the reload removed a registered instance: %v", a)
		}
	}
	if !served() {
		t.Error("the registered instance is not served after a reload")
	}

	// No heartbeat: out once the TTL (2 s) and the reaping (1 s) pass.
	eventuallyWithin(t, 6*time.Second, "the silent instance out of the balancer", func() bool {
		status, _ := call(t, "GET", gw(), "")
		return status == 503
	})
	register()
	eventually(t, "served again after registering again", served)
	if err := c.Agent().PassTTL("service:billing-1", ""); err != nil {
		t.Fatal(err)
	}

	// A restart: the registration is read back, critical until it beats.
	file := p.file
	ctx := t.Context()
	p.r.Stop(ctx)
	r2 := startFile(t, file)
	p2 := &running{r: r2, file: file, dir: p.dir}
	p = p2
	if status, _ := call(t, "GET", gw(), ""); status != 503 {
		t.Errorf("after a restart, before a heartbeat: %d", status)
	}
	c = client(p2)
	if err := c.Agent().PassTTL("service:billing-1", "back"); err != nil {
		t.Fatalf("a heartbeat after the restart: %v", err)
	}
	eventually(t, "served after the restart's first heartbeat", served)

	if err := c.Agent().ServiceDeregister("billing-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gone once deregistered", func() bool { status, _ := call(t, "GET", gw(), ""); return status == 503 })
}

// TestRegistryAcrossComposers: two composers on one Kafka cluster; an
// instance that registers with the first is served through the second,
// its heartbeats to the first keep it there past its TTL, and its
// deregistration with the first removes it from the second.
func TestRegistryAcrossComposers(t *testing.T) {
	c := kafkaCluster(t)
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "billed") }))
	t.Cleanup(inst.Close)
	host, portText, _ := net.SplitHostPort(inst.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	extra := kafkaSection(c.ListenAddrs(), "") + `
[services]
billing { kind: "http", discovery: "registry", routes: ["/billing/*path"] }
`
	a, b := startPlatform(t, extra), startPlatform(t, extra)
	cfg := consul.DefaultConfig()
	cfg.Address = a.r.AdminAddr()
	ca, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "billing-1", Name: "billing", Address: host, Port: port,
		Check: &consul.AgentServiceCheck{TTL: "2s", Status: "passing"}}); err != nil {
		t.Fatal(err)
	}
	servedBy := func(p *running) func() bool {
		return func() bool {
			status, body := call(t, "GET", "http://"+p.r.GatewayAddr()+"/billing/1", "")
			return status == 200 && body == "billed"
		}
	}
	eventuallyWithin(t, 10*time.Second, "served through the second composer", servedBy(b))
	// Heartbeats to the first only, for twice the TTL: the second keeps it.
	for range 8 {
		if err := ca.Agent().PassTTL("service:billing-1", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !servedBy(b)() {
		t.Error("the second composer dropped an instance that beats at the first")
	}
	if err := ca.Agent().ServiceDeregister("billing-1"); err != nil {
		t.Fatal(err)
	}
	eventuallyWithin(t, 10*time.Second, "gone from the second", func() bool {
		status, _ := call(t, "GET", "http://"+b.r.GatewayAddr()+"/billing/1", "")
		return status == 503
	})
}

// TestRegistryChecks: the composer runs a registration's HTTP and TCP
// checks itself, as Consul's agent does: an instance whose HTTP check
// fails leaves the balancer and comes back when it passes again.
func TestRegistryChecks(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" && !healthy.Load() {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "billed")
	}))
	t.Cleanup(inst.Close)
	host, portText, _ := net.SplitHostPort(inst.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	p := startPlatform(t, `
[services]
billing { kind: "http", discovery: "registry", routes: ["/billing/*path"] }
`)
	cfg := consul.DefaultConfig()
	cfg.Address = p.r.AdminAddr()
	c, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "billing-1", Name: "billing", Address: host, Port: port,
		Checks: consul.AgentServiceChecks{
			{HTTP: inst.URL + "/ready", Interval: "100ms", Timeout: "1s"},
			{TCP: inst.Listener.Addr().String(), Interval: "100ms"},
		}}); err != nil {
		t.Fatal(err)
	}
	gw := "http://" + p.r.GatewayAddr() + "/billing/1"
	served := func() bool { status, body := call(t, "GET", gw, ""); return status == 200 && body == "billed" }
	eventually(t, "served once its checks pass", served)
	healthy.Store(false)
	eventually(t, "out when its HTTP check fails", func() bool { status, _ := call(t, "GET", gw, ""); return status == 503 })
	entries, _, err := c.Health().Service("billing", "", false, nil)
	if err != nil || len(entries) != 1 || entries[0].Checks[0].Status != "critical" || entries[0].Checks[1].Status != "passing" {
		t.Errorf("the checks: %+v %v", entries, err)
	}
	healthy.Store(true)
	eventually(t, "back when it passes again", served)
}
