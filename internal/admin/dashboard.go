package admin

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/store"
)

//go:embed dashboard
var dashboardFiles embed.FS

// Snapshot is what the dashboard draws, once a second.
type Snapshot struct {
	Time       time.Time              `json:"time"`
	Generation int                    `json:"generation"`
	Graph      composer.Graph         `json:"graph"`
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
	// Origin is "registry" for an instance registered at run time (with
	// its id and last heartbeat), "file" or empty otherwise.
	Origin        string     `json:"origin,omitempty"`
	ID            string     `json:"id,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
}

// Rates are per second, over the last interval.
type Rates struct {
	Services map[string]float64 `json:"services"`
	Routes   map[string]float64 `json:"routes"`
}

// snapshot reads the running platform's state; prev and elapsed give the
// rates (counts since the previous snapshot).
func snapshot(r Platform, prev map[string]int64, elapsed time.Duration) (Snapshot, map[string]int64) {
	st, m := r.Status(), r.Model()
	s := Snapshot{Time: time.Now().UTC(), Generation: st.Generation, Graph: composer.GraphOf(m.Platform),
		Services: map[string]ServiceView{}, Breakers: map[string]string{},
		Rates: Rates{Services: map[string]float64{}, Routes: map[string]float64{}}, Bus: st.Bus}
	for _, svc := range r.Services() {
		v := ServiceView{Kind: svc.Kind, State: "healthy", Instances: []InstanceView{}}
		if svc.Kind != "builtin" {
			healthy, unhealthy := 0, 0
			for _, in := range svc.Instances {
				iv := InstanceView{Address: in.Address, Health: in.Health, InFlight: in.InFlight, Origin: in.Origin, ID: in.ID, LastHeartbeat: in.LastHeartbeat}
				if in.EjectedUntil != nil {
					iv.Health = "ejected"
				}
				v.Instances = append(v.Instances, iv)
				switch iv.Health {
				case balancer.Healthy.String():
					healthy++
				case balancer.Unhealthy.String(), "ejected":
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
		s.Services[svc.Name] = v
	}
	for target, b := range r.Breakers() {
		s.Breakers[target] = StateName(b.State)
	}
	now := r.Counts()
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
	s.Reloads = r.History()
	s.Events, _ = r.Events(store.Query{Last: 20})
	if s.Events == nil {
		s.Events = []store.Event{}
	}
	return s, now
}

// StateName is a breaker state as the dashboard and the metrics name it.
func StateName(s breaker.State) string {
	switch s {
	case breaker.Open:
		return "open"
	case breaker.HalfOpen:
		return "half_open"
	}
	return "closed"
}

// dashboard serves the page, its assets, and the stream of snapshots.
func dashboard(mux *http.ServeMux, r Platform) {
	assets, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.StripPrefix("/dashboard/", http.FileServerFS(assets))
	mux.Handle("GET /dashboard/", files)
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/dashboard/", http.StatusFound)
	})
	mux.HandleFunc("GET /v1/dashboard", func(w http.ResponseWriter, _ *http.Request) {
		s, _ := snapshot(r, nil, 0)
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
		prev, last := r.Counts(), time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			var s Snapshot
			s, prev = snapshot(r, prev, time.Since(last))
			last = time.Now()
			data, _ := json.Marshal(s)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
				return
			}
			flusher.Flush()
			select {
			case <-req.Context().Done():
				return
			case <-r.Done():
				return
			case <-tick.C:
			}
		}
	})
}
