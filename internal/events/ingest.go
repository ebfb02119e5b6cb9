package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// Limits of what ParseRequest takes.
const (
	MaxPublishBody  = 1 << 20 // bytes of one request
	MaxPublishBatch = 1000    // events of one batch
)

// ParseRequest reads the CloudEvents of a publish request: structured
// mode (Content-Type application/cloudevents+json, one event), a batch
// (application/cloudevents-batch+json, a list), or binary mode (ce-*
// headers, the body is the data). Every event needs a type; a missing id
// or time is made up; data must be JSON. The source is left to the
// caller, who knows who publishes. Errors are the client's: answer 400.
func ParseRequest(req *http.Request) ([]Event, error) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxPublishBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > MaxPublishBody {
		return nil, fmt.Errorf("the body is over %d bytes", MaxPublishBody)
	}
	media, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch media {
	case "application/cloudevents+json":
		var ce CloudEvent
		if err := strictJSON(body, &ce); err != nil {
			return nil, fmt.Errorf("a structured CloudEvent: %w", err)
		}
		e, err := fromCloudEvent(ce)
		if err != nil {
			return nil, err
		}
		return []Event{e}, nil
	case "application/cloudevents-batch+json":
		var batch []CloudEvent
		if err := strictJSON(body, &batch); err != nil {
			return nil, fmt.Errorf("a batch of CloudEvents: %w", err)
		}
		if len(batch) == 0 || len(batch) > MaxPublishBatch {
			return nil, fmt.Errorf("a batch has 1 to %d events, not %d", MaxPublishBatch, len(batch))
		}
		out := make([]Event, 0, len(batch))
		for i, ce := range batch {
			e, err := fromCloudEvent(ce)
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			out = append(out, e)
		}
		return out, nil
	}
	// Binary mode.
	h := req.Header
	ce := CloudEvent{SpecVersion: h.Get("ce-specversion"), ID: h.Get("ce-id"), Type: h.Get("ce-type"),
		Subject: h.Get("ce-subject"), Time: h.Get("ce-time"), CorrelationID: h.Get("ce-correlationid"),
		CausationID: h.Get("ce-causationid"), TraceParent: h.Get("ce-traceparent"), AggregateType: h.Get("ce-aggregatetype"),
		DataSchema: h.Get("ce-dataschema")}
	if v := h.Get("ce-aggregateversion"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ce-aggregateversion %q is not a version (1, 2, ...)", v)
		}
		ce.AggregateVersion = n
	}
	if ce.Type == "" {
		return nil, errors.New("no event: send a CloudEvent (application/cloudevents+json), a batch (application/cloudevents-batch+json) or ce-* headers with the data as the body")
	}
	if len(body) > 0 {
		ce.Data = body
	}
	e, err := fromCloudEvent(ce)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

func fromCloudEvent(ce CloudEvent) (Event, error) {
	switch {
	case ce.Type == "":
		return Event{}, errors.New("the event has no type")
	case len(ce.Type) > 200 || len(ce.ID) > 200 || len(ce.Subject) > 500:
		return Event{}, errors.New("type, id or subject too long")
	case ce.SpecVersion != "" && ce.SpecVersion != "1.0":
		return Event{}, fmt.Errorf("specversion %q: only 1.0", ce.SpecVersion)
	case len(ce.Data) > 0 && !json.Valid(ce.Data):
		return Event{}, errors.New("the data is not JSON")
	}
	if (ce.AggregateType == "") != (ce.AggregateVersion == 0) || ce.AggregateType != "" && ce.Subject == "" {
		return Event{}, errors.New("an aggregate's event names its aggregatetype, its aggregateversion (1, 2, ...) and its subject (the aggregate's id)")
	}
	e := Event{ID: ce.ID, Type: ce.Type, Subject: ce.Subject, Data: ce.Data, CorrelationID: ce.CorrelationID,
		CausationID: ce.CausationID, TraceParent: ce.TraceParent, Time: time.Now().UTC(),
		AggregateType: ce.AggregateType, AggregateVersion: ce.AggregateVersion, DataSchema: ce.DataSchema}
	if ce.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, ce.Time)
		if err != nil {
			return Event{}, fmt.Errorf("time %q is not RFC 3339", ce.Time)
		}
		e.Time = t.UTC()
	}
	if e.ID == "" {
		e.ID = store.NewID()
	}
	return e, nil
}
