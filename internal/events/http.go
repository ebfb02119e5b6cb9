package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/tuskcompose/composer/internal/tracing"
)

// CloudEvent is an event in the CloudEvents 1.0 JSON format.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
	// The aggregate extension: the aggregate's type (its id is the
	// subject) and the event's version in its history.
	AggregateType    string `json:"aggregatetype,omitempty"`
	AggregateVersion uint64 `json:"aggregateversion,omitempty"`
}

// ToCloudEvent converts an event.
func ToCloudEvent(e Event) CloudEvent {
	ce := CloudEvent{
		SpecVersion: "1.0", ID: e.ID, Type: e.Type, Source: e.Source, Subject: e.Subject,
		Time: e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), Data: e.Data,
		CorrelationID: e.CorrelationID, CausationID: e.CausationID, TraceParent: e.TraceParent,
		AggregateType: e.AggregateType, AggregateVersion: e.AggregateVersion, DataSchema: e.DataSchema,
	}
	if len(e.Data) > 0 {
		ce.DataContentType = "application/json"
	}
	return ce
}

// HTTPTarget returns a handler that POSTs each event to url as a
// structured CloudEvent (Content-Type application/cloudevents+json). A 2xx
// answer is a success; anything else is an error, so the event is tried
// again and finally dead-lettered.
func HTTPTarget(client *http.Client, url string) Handler {
	return func(ctx context.Context, e Event) error {
		ce := ToCloudEvent(e)
		if tp := tracing.TraceParent(ctx); tp != "" {
			ce.TraceParent = tp // the delivery's span
		}
		body, err := json.Marshal(ce)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/cloudevents+json")
		if tracing.Enabled() {
			tracing.Inject(ctx, req.Header)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}
}

// All returns a handler that runs every handler on the event, in order,
// stopping at the first error (the event is then tried again, and the
// handlers before it see it again: handlers are idempotent).
func All(handlers ...Handler) Handler {
	return func(ctx context.Context, e Event) error {
		for _, h := range handlers {
			if err := h(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
}

// Finishing returns a handler that lets a delivery it has begun finish
// when the consumer's context ends (the consumer stops for a reload, or
// at shutdown), until deliveries ends, so that what a target received is
// also acknowledged on the bus and not delivered again by the next
// consumer. A delivery asked for after the consumer's context ended is
// refused with that context's error: the bus leaves the event for
// whoever consumes next. The consumer's values (its trace) go with the
// delivery.
func Finishing(h Handler, deliveries context.Context) Handler {
	return func(ctx context.Context, e Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(deliveries, cancel)()
		return h(dctx, e)
	}
}
