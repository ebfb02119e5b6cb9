package composer

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/store"
)

//go:embed dashboard
var dashboardFiles embed.FS

// counters are the request and event counts the dashboard turns into
// rates: by service ("svc:NAME") and by event route ("route:NAME").
type counters struct{ m sync.Map }

func (c *counters) add(key string) {
	v, ok := c.m.Load(key)
	if !ok {
		v, _ = c.m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *counters) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

// Snapshot is what the dashboard draws, once a second.
type Snapshot struct {
	Time       time.Time              `json:"time"`
	Generation int                    `json:"generation"`
	Graph      Graph                  `json:"graph"`
	Services   map[string]ServiceView `json:"services"`
	Breakers   map[string]string      `json:"breakers"`
	Rates      Rates                  `json:"rates"`
	Reloads    []Reload               `json:"reloads"`
	Events     []store.Event          `json:"events"`
	Bus        BusState               `json:"bus"`
}

// ServiceView is a service's live state: healthy (every instance),
// degraded (some), unhealthy (none), unknown (not probed yet).
type ServiceView struct {
	Kind      string         `json:"kind"`
	State     string         `json:"state"`
	Instances []InstanceView `json:"instances"`
}

// InstanceView is an instance's health.
type InstanceView struct {
	Address  string `json:"address"`
	Health   string `json:"health"`
	InFlight int64  `json:"in_flight"`
}

// Rates are per second, over the last interval.
type Rates struct {
	Services map[string]float64 `json:"services"`
	Routes   map[string]float64 `json:"routes"`
}

// snapshot reads the running platform's state; prev and elapsed give the
// rates (counts since the previous snapshot).
func (r *Runner) snapshot(prev map[string]int64, elapsed time.Duration) (Snapshot, map[string]int64) {
	g := r.gen()
	s := Snapshot{Time: time.Now().UTC(), Generation: g.number, Graph: GraphOf(g.platform),
		Services: map[string]ServiceView{}, Breakers: map[string]string{},
		Rates: Rates{Services: map[string]float64{}, Routes: map[string]float64{}}, Bus: *r.busOK.Load()}
	for name, svc := range g.platform.Services {
		v := ServiceView{Kind: svc.Kind, State: "healthy", Instances: []InstanceView{}}
		if e := g.services[name]; e != nil {
			healthy, unhealthy := 0, 0
			for _, in := range e.balancer.Instances() {
				h := in.Health()
				v.Instances = append(v.Instances, InstanceView{in.Address, h.String(), in.InFlight()})
				switch h {
				case balancer.Healthy:
					healthy++
				case balancer.Unhealthy:
					unhealthy++
				}
			}
			n := len(v.Instances)
			switch {
			case n > 0 && healthy == n:
				v.State = "healthy"
			case healthy > 0:
				v.State = "degraded"
			case unhealthy > 0:
				v.State = "unhealthy"
			default:
				v.State = "unknown"
			}
		}
		s.Services[name] = v
	}
	for target, e := range g.breakers {
		s.Breakers[target] = stateName(e.Snapshot().State)
	}
	now := r.counts.snapshot()
	if secs := elapsed.Seconds(); secs > 0 {
		for k, v := range now {
			rate := float64(v-prev[k]) / secs
			switch {
			case len(k) > 4 && k[:4] == "svc:":
				s.Rates.Services[k[4:]] = rate
			case len(k) > 6 && k[:6] == "route:":
				s.Rates.Routes[k[6:]] = rate
			}
		}
	}
	r.statusMu.Lock()
	s.Reloads = append([]Reload(nil), r.history...)
	r.statusMu.Unlock()
	s.Events, _ = r.store.Events(store.Query{Last: 20})
	if s.Events == nil {
		s.Events = []store.Event{}
	}
	return s, now
}

// dashboard serves the page, its assets, and the stream of snapshots.
func (r *Runner) dashboard(mux *http.ServeMux) {
	assets, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.StripPrefix("/dashboard/", http.FileServerFS(assets))
	mux.Handle("GET /dashboard/", files)
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/dashboard/", http.StatusFound)
	})
	mux.HandleFunc("GET /v1/dashboard", func(w http.ResponseWriter, _ *http.Request) {
		s, _ := r.snapshot(nil, 0)
		writeJSON(w, 200, s)
	})
	mux.HandleFunc("GET /v1/dashboard/stream", func(w http.ResponseWriter, req *http.Request) {
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		prev, last := r.counts.snapshot(), time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			var s Snapshot
			s, prev = r.snapshot(prev, time.Since(last))
			last = time.Now()
			data, _ := json.Marshal(s)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
				return
			}
			flusher.Flush()
			select {
			case <-req.Context().Done():
				return
			case <-r.ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}
