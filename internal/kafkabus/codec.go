package kafkabus

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tuskcompose/composer/internal/events"
)

// The headers of an event in a Kafka message: CloudEvents' Kafka protocol
// binding, binary content mode (attributes in ce_ headers, data as the
// value).
const (
	headerPrefix      = "ce_"
	headerSpecVersion = "ce_specversion"
	headerContentType = "content-type"
	// HeaderDeadLetterReason and HeaderDeadLetterRoute are added to a
	// message moved to a dead-letter topic: why its delivery failed, and
	// on which route.
	HeaderDeadLetterReason = "ce_deadletterreason"
	HeaderDeadLetterRoute  = "ce_deadletterroute"
)

// Encode turns an event into a message of topic: keyed by subject (one
// aggregate's events go to one partition, in order), attributes in
// headers, the data as the value.
func Encode(topic string, e events.Event) kafka.Message {
	h := []kafka.Header{
		{Key: headerSpecVersion, Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(e.ID)},
		{Key: "ce_type", Value: []byte(e.Type)},
		{Key: "ce_source", Value: []byte(e.Source)},
		{Key: "ce_time", Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
	}
	for _, a := range []struct{ k, v string }{
		{"ce_subject", e.Subject}, {"ce_correlationid", e.CorrelationID}, {"ce_causationid", e.CausationID},
		{"ce_traceparent", e.TraceParent}, {"ce_aggregatetype", e.AggregateType}, {"ce_dataschema", e.DataSchema},
	} {
		if a.v != "" {
			h = append(h, kafka.Header{Key: a.k, Value: []byte(a.v)})
		}
	}
	if e.AggregateVersion > 0 {
		h = append(h, kafka.Header{Key: "ce_aggregateversion", Value: []byte(strconv.FormatUint(e.AggregateVersion, 10))})
	}
	if len(e.Data) > 0 {
		h = append(h, kafka.Header{Key: headerContentType, Value: []byte("application/json")})
	}
	key := e.Subject
	if e.AggregateType != "" {
		key = e.AggregateType + "/" + e.Subject // an aggregate's events keep their order, apart from another type's of the same id
	}
	return kafka.Message{Topic: topic, Key: []byte(key), Value: e.Data, Headers: h}
}

// Decode reads an event from a message, in whichever form it came:
//
//   - binary mode (ce_ headers, as Encode writes and CloudEvents SDKs do);
//   - structured mode (the value is a CloudEvents JSON object, content
//     type application/cloudevents+json or a "specversion" member);
//   - a plain message (what `kcat -P` or any producer sends): its id is
//     topic/partition/offset, its type the topic, its subject the key, its
//     time the message's, and its data the value when that is JSON, else
//     the value as a JSON string.
//
// An event without an id or a type, a bad time or data that is not JSON in
// an event that says it is, is an error: the caller dead-letters the
// message with it.
func Decode(m kafka.Message) (events.Event, error) {
	hdr := map[string]string{}
	for _, h := range m.Headers {
		hdr[strings.ToLower(h.Key)] = string(h.Value)
	}
	if _, ok := hdr[headerSpecVersion]; ok {
		return decodeBinary(m, hdr)
	}
	if strings.HasPrefix(hdr[headerContentType], "application/cloudevents+json") || looksStructured(m.Value) {
		return decodeStructured(m)
	}
	e := events.Event{
		ID:      fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset),
		Type:    m.Topic,
		Source:  "kafka:" + m.Topic,
		Subject: string(m.Key),
		Time:    m.Time.UTC(),
	}
	switch {
	case len(m.Value) == 0:
	case json.Valid(m.Value):
		e.Data = append(json.RawMessage(nil), m.Value...)
	default:
		e.Data, _ = json.Marshal(string(m.Value))
	}
	return e, nil
}

func decodeBinary(m kafka.Message, hdr map[string]string) (events.Event, error) {
	e := events.Event{
		ID: hdr["ce_id"], Type: hdr["ce_type"], Source: hdr["ce_source"], Subject: hdr["ce_subject"],
		CorrelationID: hdr["ce_correlationid"], CausationID: hdr["ce_causationid"], TraceParent: hdr["ce_traceparent"],
		AggregateType: hdr["ce_aggregatetype"], DataSchema: hdr["ce_dataschema"],
	}
	if v := hdr["ce_aggregateversion"]; v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return events.Event{}, fmt.Errorf("ce_aggregateversion %q is not a version", v)
		}
		e.AggregateVersion = n
	}
	if t := hdr["ce_time"]; t != "" {
		var err error
		if e.Time, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return e, fmt.Errorf("ce_time %q is not an RFC 3339 time", t)
		}
	} else {
		e.Time = m.Time.UTC()
	}
	if len(m.Value) > 0 {
		if !json.Valid(m.Value) {
			return e, fmt.Errorf("event %s: the data is not JSON", e.ID)
		}
		e.Data = append(json.RawMessage(nil), m.Value...)
	}
	return e, checkEvent(e)
}

func looksStructured(v []byte) bool {
	var probe struct {
		SpecVersion string `json:"specversion"`
	}
	return len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &probe) == nil && probe.SpecVersion != ""
}

func decodeStructured(m kafka.Message) (events.Event, error) {
	var ce events.CloudEvent
	if err := json.Unmarshal(m.Value, &ce); err != nil {
		return events.Event{}, fmt.Errorf("a structured CloudEvent that is not valid JSON: %v", err)
	}
	e := events.Event{ID: ce.ID, Type: ce.Type, Source: ce.Source, Subject: ce.Subject, Data: ce.Data,
		CorrelationID: ce.CorrelationID, CausationID: ce.CausationID, TraceParent: ce.TraceParent,
		AggregateType: ce.AggregateType, AggregateVersion: ce.AggregateVersion, DataSchema: ce.DataSchema}
	if ce.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, ce.Time)
		if err != nil {
			return e, fmt.Errorf("time %q is not an RFC 3339 time", ce.Time)
		}
		e.Time = t
	} else {
		e.Time = m.Time.UTC()
	}
	return e, checkEvent(e)
}

func checkEvent(e events.Event) error {
	switch {
	case e.ID == "":
		return fmt.Errorf("an event without an id")
	case e.Type == "":
		return fmt.Errorf("event %s has no type", e.ID)
	}
	return nil
}
