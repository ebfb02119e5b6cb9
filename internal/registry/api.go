package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Node is the name the registry answers as Consul's node of every
// instance.
const Node = "composer"

// registration is Consul's AgentServiceRegistration, the JSON of
// PUT /v1/agent/service/register.
type registration struct {
	ID      string
	Name    string
	Tags    []string
	Port    int
	Address string
	Meta    map[string]string
	Check   *checkDef
	Checks  []*checkDef
}

// checkDef is Consul's AgentServiceCheck.
type checkDef struct {
	CheckID                        string
	Name                           string
	TTL                            string
	HTTP                           string
	GRPC                           string
	TCP                            string
	Interval                       string
	Timeout                        string
	Status                         string
	Notes                          string
	DeregisterCriticalServiceAfter string
}

// maxBody bounds a registration or a check update.
const maxBody = 64 << 10

// Handler serves Consul's agent, health and catalog endpoints that
// clients use to register, beat, deregister and watch:
//
//	PUT /v1/agent/service/register            a registration (400: a service the platform does not list)
//	PUT /v1/agent/service/deregister/{id}
//	PUT /v1/agent/check/{pass,warn,fail}/{id}  a check's status (?note=); 404: an unknown check
//	PUT /v1/agent/check/update/{id}           {"Status": ..., "Output": ...}
//	GET /v1/health/service/{name}             ?passing, blocking with ?index= and ?wait=
//	GET /v1/catalog/services                  blocking too
//	GET /v1/agent/services, /v1/agent/checks, /v1/agent/self, /v1/status/leader   what clients ask besides
//	GET /v1/registry                          every registered instance, its checks and states (the composer's own)
//
// The caller mounts it on the admin address (behind its token).
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/agent/service/register", func(w http.ResponseWriter, req *http.Request) {
		var reg registration
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody))
		if err := dec.Decode(&reg); err != nil {
			fail(w, http.StatusBadRequest, "malformed registration: "+err.Error())
			return
		}
		in, err := reg.instance()
		if err == nil {
			err = r.Register(in)
		}
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("PUT /v1/agent/service/deregister/{id}", func(w http.ResponseWriter, req *http.Request) {
		if err := r.Deregister(req.PathValue("id")); err != nil {
			fail(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	for verb, status := range map[string]string{"pass": Passing, "warn": Warning, "fail": Critical} {
		mux.HandleFunc("PUT /v1/agent/check/"+verb+"/{id}", func(w http.ResponseWriter, req *http.Request) {
			r.update(w, req.PathValue("id"), status, req.URL.Query().Get("note"))
		})
	}
	mux.HandleFunc("PUT /v1/agent/check/update/{id}", func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Status, Output string }
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody)).Decode(&body); err != nil {
			fail(w, http.StatusBadRequest, "malformed check update: "+err.Error())
			return
		}
		r.update(w, req.PathValue("id"), body.Status, body.Output)
	})
	mux.HandleFunc("GET /v1/health/service/{name}", func(w http.ResponseWriter, req *http.Request) {
		if !r.block(w, req) {
			return
		}
		_, passing := req.URL.Query()["passing"]
		if v := req.URL.Query().Get("passing"); v == "false" || v == "0" {
			passing = false
		}
		instances, index := r.Service(req.PathValue("name"), passing)
		out := []serviceEntry{}
		for _, in := range instances {
			out = append(out, entryOf(in))
		}
		answer(w, index, out)
	})
	// What clients ask besides: the agent's own services and checks, who
	// it is, and the cluster's leader (the composer is its own).
	mux.HandleFunc("GET /v1/agent/services", func(w http.ResponseWriter, _ *http.Request) {
		out := map[string]serviceJSON{}
		for _, in := range r.All() {
			e := entryOf(in)
			out[in.ID] = e.Service
		}
		answer(w, r.currentIndex(), out)
	})
	mux.HandleFunc("GET /v1/agent/checks", func(w http.ResponseWriter, _ *http.Request) {
		out := map[string]checkJSON{}
		for _, in := range r.All() {
			for _, c := range entryOf(in).Checks {
				out[c.CheckID] = c
			}
		}
		answer(w, r.currentIndex(), out)
	})
	mux.HandleFunc("GET /v1/agent/self", func(w http.ResponseWriter, _ *http.Request) {
		answer(w, r.currentIndex(), map[string]any{
			"Config": map[string]string{"NodeName": Node, "Datacenter": "composer", "NodeID": Node},
			"Member": map[string]any{"Name": Node, "Addr": "127.0.0.1", "Status": 1},
		})
	})
	mux.HandleFunc("GET /v1/status/leader", func(w http.ResponseWriter, _ *http.Request) {
		answer(w, r.currentIndex(), "127.0.0.1:8300")
	})
	mux.HandleFunc("GET /v1/registry", func(w http.ResponseWriter, _ *http.Request) {
		all := r.All()
		if all == nil {
			all = []Instance{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(all)
	})
	mux.HandleFunc("GET /v1/catalog/services", func(w http.ResponseWriter, req *http.Request) {
		if !r.block(w, req) {
			return
		}
		services, index := r.Services()
		answer(w, index, services)
	})
	return mux
}

func (r *Registry) update(w http.ResponseWriter, id, status, output string) {
	err := r.UpdateCheck(id, status, output)
	switch {
	case errors.Is(err, ErrUnknownCheck):
		fail(w, http.StatusNotFound, err.Error()) // the client registers again
	case err != nil:
		fail(w, http.StatusBadRequest, err.Error())
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// maxWait bounds a blocking query's wait, as Consul's.
const maxWait = 10 * time.Minute

// block waits for a blocking query (?index=N&wait=D; D defaults to 5m,
// at most 10m); false when the query is malformed (answered 400).
func (r *Registry) block(w http.ResponseWriter, req *http.Request) bool {
	q := req.URL.Query()
	if q.Get("index") == "" {
		return true
	}
	index, err := strconv.ParseUint(q.Get("index"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "index: "+err.Error())
		return false
	}
	wait := 5 * time.Minute
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			if s, err2 := strconv.Atoi(v); err2 == nil { // Consul also takes seconds
				wait, err = time.Duration(s)*time.Second, nil
			}
		}
		if err != nil || wait <= 0 {
			fail(w, http.StatusBadRequest, fmt.Sprintf("wait %q is not a duration such as 30s", v))
			return false
		}
	}
	r.Wait(req.Context(), index, min(wait, maxWait))
	return true
}

func answer(w http.ResponseWriter, index uint64, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Consul-Index", strconv.FormatUint(index, 10))
	h.Set("X-Consul-KnownLeader", "true")
	h.Set("X-Consul-LastContact", "0")
	json.NewEncoder(w).Encode(v)
}

// fail answers an error as Consul does: plain text, with its status.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// instance is a registration as an Instance, its durations parsed.
func (reg *registration) instance() (*Instance, error) {
	if reg.Name == "" {
		return nil, errors.New("a registration needs a Name: the platform service it is an instance of")
	}
	if reg.Port < 1 || reg.Port > 65535 {
		return nil, fmt.Errorf("port %d is not 1 to 65535", reg.Port)
	}
	addr := reg.Address
	if addr == "" {
		addr = "127.0.0.1"
	}
	in := &Instance{ID: reg.ID, Service: reg.Name, Address: addr, Port: reg.Port, Tags: reg.Tags, Meta: reg.Meta}
	defs := reg.Checks
	if reg.Check != nil {
		defs = append([]*checkDef{reg.Check}, defs...)
	}
	for _, d := range defs {
		c, err := d.check()
		if err != nil {
			return nil, err
		}
		in.Checks = append(in.Checks, c)
	}
	return in, nil
}

func (d *checkDef) check() (*Check, error) {
	c := &Check{ID: d.CheckID, Name: d.Name, Status: strings.ToLower(d.Status)}
	dur := func(name, v string, need bool) (time.Duration, error) {
		if v == "" {
			if need {
				return 0, fmt.Errorf("a %s check needs %s", c.Kind, name)
			}
			return 0, nil
		}
		x, err := time.ParseDuration(v)
		if err != nil || x < 0 {
			return 0, fmt.Errorf("%s %q is not a duration such as \"10s\"", name, v)
		}
		return x, nil
	}
	var err error
	switch {
	case d.TTL != "":
		c.Kind = "ttl"
		if c.TTL, err = dur("TTL", d.TTL, true); err != nil {
			return nil, err
		}
	case d.HTTP != "":
		c.Kind, c.Target = "http", d.HTTP
	case d.GRPC != "":
		c.Kind, c.Target = "grpc", d.GRPC
	case d.TCP != "":
		c.Kind, c.Target = "tcp", d.TCP
	default:
		return nil, errors.New("a check is TTL, HTTP, GRPC or TCP")
	}
	if c.Kind != "ttl" {
		if c.Interval, err = dur("Interval", d.Interval, true); err != nil {
			return nil, err
		}
	}
	if c.Timeout, err = dur("Timeout", d.Timeout, false); err != nil {
		return nil, err
	}
	if c.DeregisterAfter, err = dur("DeregisterCriticalServiceAfter", d.DeregisterCriticalServiceAfter, false); err != nil {
		return nil, err
	}
	switch c.Status {
	case "", Passing, Warning, Critical:
	default:
		return nil, fmt.Errorf("status %q is not passing, warning or critical", d.Status)
	}
	return c, nil
}

// serviceEntry is Consul's ServiceEntry of /v1/health/service.
type serviceEntry struct {
	Node    nodeJSON
	Service serviceJSON
	Checks  []checkJSON
}

type nodeJSON struct {
	ID, Node, Address, Datacenter string
}

type serviceJSON struct {
	ID, Service string
	Tags        []string
	Address     string
	Port        int
	Meta        map[string]string
}

type checkJSON struct {
	Node, CheckID, Name, Status, Output, ServiceID, ServiceName, Type string
}

func entryOf(in Instance) serviceEntry {
	e := serviceEntry{Node: nodeJSON{ID: Node, Node: Node, Address: "127.0.0.1", Datacenter: "composer"},
		Service: serviceJSON{ID: in.ID, Service: in.Service, Tags: in.Tags, Address: in.Address, Port: in.Port, Meta: in.Meta},
		Checks:  []checkJSON{}}
	if e.Service.Tags == nil {
		e.Service.Tags = []string{}
	}
	for _, c := range in.Checks {
		e.Checks = append(e.Checks, checkJSON{Node: Node, CheckID: c.ID, Name: c.Name, Status: c.Status, Output: c.Output,
			ServiceID: in.ID, ServiceName: in.Service, Type: c.Kind})
	}
	return e
}

// currentIndex is the registry's index now.
func (r *Registry) currentIndex() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.index
}
