package runner

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/store"
)

// publisher is the events listener of one process service, on loopback:
// its address is the service's COMPOSER_EVENTS_URL. Being the service's
// own, it knows who publishes: the events get source /services/<name>,
// and only the types of its `publishes` are taken.
type publisher struct {
	ln  net.Listener
	srv *http.Server
}

// eventsAddr returns the address of a service's events listener, opening
// it the first time. Called with reloadMu held (or before Start).
func (r *Runner) eventsAddr(service string) (string, error) {
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	if p := r.publishers[service]; p != nil {
		return p.ln.Addr().String(), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("events listener of %s: %w", service, err)
	}
	p := &publisher{ln: ln, srv: &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.servePublish(w, req, service) })}}
	r.publishers[service] = p
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		if err := p.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			r.log.Error("events listener", "service", service, "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// servePublish takes the events a service publishes: 202 once they are
// in the outbox (from there they are not lost), 403 for a type the
// service does not list in `publishes`.
func (r *Runner) servePublish(w http.ResponseWriter, req *http.Request, service string) {
	if req.Method != http.MethodPost {
		gateway.WriteError(w, req, http.StatusMethodNotAllowed, "POST CloudEvents here")
		return
	}
	es, err := events.ParseRequest(req)
	if err != nil {
		gateway.WriteError(w, req, http.StatusBadRequest, err.Error())
		return
	}
	s := r.gen().model.Services[service]
	if s == nil {
		gateway.WriteError(w, req, http.StatusServiceUnavailable, "service "+service+" is not in the running platform")
		return
	}
	for _, e := range es {
		if !slices.Contains(s.Publishes, e.Type) {
			gateway.WriteError(w, req, http.StatusForbidden, fmt.Sprintf("service %s does not publish %q (its publishes: %v)", service, e.Type, s.Publishes))
			return
		}
	}
	ids := make([]string, len(es))
	err = r.store.Update(func(tx *store.Tx) error {
		for i, e := range es {
			e.Source = "/services/" + service
			if e.CorrelationID == "" {
				e.CorrelationID = req.Header.Get(gateway.RequestIDHeader)
			}
			out, err := tx.Emit(e)
			if err != nil {
				return err
			}
			ids[i] = out.ID
		}
		return nil
	})
	if errors.Is(err, store.ErrVersionConflict) {
		gateway.WriteError(w, req, http.StatusConflict, err.Error()) // nothing of the batch was taken
		return
	}
	if err != nil {
		gateway.WriteError(w, req, http.StatusServiceUnavailable, "the outbox: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "{\"accepted\": %d, \"ids\": %q}\n", len(ids), ids)
}

// closePublishers closes the events listeners of the services the
// current generation does not have as processes.
func (r *Runner) closePublishers(keep func(string) bool) {
	r.meshMu.Lock()
	defer r.meshMu.Unlock()
	for name, p := range r.publishers {
		if keep == nil || !keep(name) {
			p.srv.Close()
			delete(r.publishers, name)
		}
	}
}
