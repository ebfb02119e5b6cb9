// Package admin serves a running platform's admin API and its dashboard,
// over Platform: what the runner shows and does, and nothing else of it.
// Its types are the API's JSON shapes.
package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// Handler serves the admin API, behind the admin token when token is
// not "" (guard: Authorization: Bearer TOKEN, or the dashboard's login
// cookie; /healthz and /readyz are open, pprof answers loopback only):
//
//	GET  /healthz              the process is up
//	GET  /readyz               a generation is serving (200), and the event bus's state
//	GET  /v1/status            generation, config files, the last reload and its diagnostics
//	GET  /v1/platform          the running platform, resolved (what composer plan compares with)
//	GET  /v1/services          services, instances and their health
//	GET  /v1/breakers          every circuit breaker's state and counts
//	GET  /v1/mesh              the calls of process services through the mesh: addresses, breakers
//	GET  /v1/processes         the instances of process services: state, pid, restarts, health, uptime
//	GET  /v1/services/{name}/logs?instance=   a process service's last output lines
//	GET  /v1/events?type=&subject=&limit=   the event store (?aggregate=order/7: one aggregate's events, in version order)
//	POST /v1/events?type=&subject=          publish an event (the body is its JSON data)
//	POST /v1/events/replay?route=&from=     re-deliver the event store's events to a route
//	POST /v1/reload            reload now; answers the result
//	GET  /metrics              Prometheus metrics (unless enable_metrics: false)
//	GET  /dashboard/           the live dashboard (GET /v1/dashboard/stream: its server-sent snapshots)
//	PUT  /v1/agent/service/register, GET /v1/health/service/{name}, ...   the registry, Consul's API (registry.Handler)
//	GET  /debug/pprof/         Go's profiler (loopback clients only)
//	GET  /dashboard/login      the dashboard's login, with a token (POST: the form)
func Handler(r Platform, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		// A bus that cannot be reached does not make the platform
		// unready: HTTP is served, and events wait in the outbox.
		st := r.Status()
		writeJSON(w, 200, map[string]any{"status": "ready", "bus": st.Bus})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, r.Status())
	})
	mux.HandleFunc("GET /v1/platform", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, r.Model()) })
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, r.Services()) })
	mux.HandleFunc("GET /v1/processes", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, r.Processes()) })
	mux.HandleFunc("GET /v1/mesh", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, r.Mesh()) })
	mux.HandleFunc("GET /v1/services/{name}/logs", func(w http.ResponseWriter, req *http.Request) {
		lines, ok := r.Logs(req.PathValue("name"))
		if !ok {
			writeJSON(w, 404, map[string]string{"error": "no process service " + strconv.Quote(req.PathValue("name"))})
			return
		}
		out := []Log{}
		for _, l := range lines {
			if i := req.URL.Query().Get("instance"); i != "" && i != strconv.Itoa(l.Instance) {
				continue
			}
			out = append(out, l)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /v1/breakers", func(w http.ResponseWriter, _ *http.Request) {
		type view struct {
			State               string  `json:"state"`
			ConsecutiveFailures int     `json:"consecutive_failures"`
			WindowRequests      int     `json:"window_requests"`
			WindowFailures      int     `json:"window_failures"`
			WindowSlow          int     `json:"window_slow_calls"`
			RetryAfterSeconds   float64 `json:"retry_after_seconds,omitempty"`
			Successes           uint64  `json:"successes"`
			Failures            uint64  `json:"failures"`
			Rejected            uint64  `json:"rejected"`
			Transitions         uint64  `json:"transitions"`
		}
		out := map[string]view{}
		for name, s := range r.Breakers() {
			out[name] = view{s.State.String(), s.ConsecutiveFailures, s.WindowRequests, s.WindowFailures, s.WindowSlow,
				s.RetryAfter.Seconds(), s.Successes, s.Failures, s.Rejected, s.Transitions}
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, req *http.Request) {
		q := store.Query{Type: req.URL.Query().Get("type"), Subject: req.URL.Query().Get("subject"), Limit: 1000}
		if agg := req.URL.Query().Get("aggregate"); agg != "" {
			typ, id, ok := strings.Cut(agg, "/")
			if !ok || typ == "" || id == "" {
				writeJSON(w, 400, map[string]string{"error": "aggregate: TYPE/ID, such as order/7"})
				return
			}
			q.AggregateType, q.Subject, q.Limit = typ, id, 0
		}
		if after := req.URL.Query().Get("after"); after != "" {
			n, err := strconv.ParseUint(after, 10, 64)
			if err != nil {
				writeJSON(w, 400, map[string]string{"error": "after: an event's seq"})
				return
			}
			q.After = n
		}
		if since := req.URL.Query().Get("since"); since != "" {
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				writeJSON(w, 400, map[string]string{"error": "since: an RFC 3339 time"})
				return
			}
			q.Since = t
		}
		evs, err := r.Events(q)
		if err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		out := make([]storedEvent, len(evs))
		for i, e := range evs {
			out[i] = storedEvent{Seq: e.Seq, Event: e}
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("POST /v1/events", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		data, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil || q.Get("type") == "" || len(data) > 0 && !json.Valid(data) {
			writeJSON(w, 400, map[string]string{"error": "POST /v1/events?type=TOPIC[&subject=S] with the event's JSON data as the body"})
			return
		}
		e := store.Event{ID: store.NewID(), Type: q.Get("type"), Source: "/composer/admin", Subject: q.Get("subject"),
			Time: time.Now().UTC(), Data: data, CorrelationID: req.Header.Get("X-Request-Id")}
		if err := r.Publish(req.Context(), e); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "publish: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, e)
	})
	mux.HandleFunc("POST /v1/events/replay", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		var from time.Time
		if f := q.Get("from"); f != "" {
			t, err := time.Parse(time.RFC3339, f)
			if err != nil {
				writeJSON(w, 400, map[string]string{"error": "from: an RFC 3339 time such as 2026-11-25T10:00:00Z"})
				return
			}
			from = t
		}
		res, err := r.Replay(req.Context(), q.Get("route"), from)
		var noRoute ErrNoRoute
		switch {
		case errors.As(err, &noRoute):
			writeJSON(w, 404, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, 500, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, 200, res)
		}
	})
	if m := r.Metrics(); m != nil {
		mux.Handle("GET /metrics", m)
	}
	dashboard(mux, r)
	if reg := r.Registry(); reg != nil {
		for _, prefix := range []string{"/v1/agent/", "/v1/health/", "/v1/catalog/", "/v1/status/leader", "/v1/registry"} {
			mux.Handle(prefix, reg)
		}
	}
	// Go's profiler, for people who want to see where the time goes, on
	// loopback only (guard).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, _ *http.Request) {
		res := r.Reload()
		status := 200
		if !res.OK {
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, res)
	})
	return guard(token, mux)
}

// storedEvent is an event of the event store with its position.
type storedEvent struct {
	Seq uint64 `json:"seq"`
	store.Event
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "orders->users", not "orders-\u003eusers"
	enc.Encode(v)
}
