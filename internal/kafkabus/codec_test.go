package kafkabus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tuskcompose/composer/internal/events"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	e := events.Event{ID: "e1", Type: "order.created", Source: "/services/orders", Subject: "42",
		Time: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC), Data: json.RawMessage(`{"total_amount":150}`),
		CorrelationID: "req-1", CausationID: "c-0", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	m := Encode("order.created", e)
	if string(m.Key) != "42" || string(m.Value) != `{"total_amount":150}` || m.Topic != "order.created" {
		t.Fatalf("message %+v", m)
	}
	got, err := Decode(m)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("Decode = %+v, %v; want %+v", got, err, e)
	}
}

func TestDecodeForms(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) []kafka.Header {
		var h []kafka.Header
		for i := 0; i < len(kv); i += 2 {
			h = append(h, kafka.Header{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return h
	}
	cases := []struct {
		name string
		m    kafka.Message
		want events.Event
		err  string
	}{
		{
			name: "plain JSON, as kcat sends it",
			m:    kafka.Message{Topic: "order.created", Partition: 2, Offset: 7, Key: []byte("9"), Value: []byte(`{"total_amount": 5}`), Time: at},
			want: events.Event{ID: "order.created/2/7", Type: "order.created", Source: "kafka:order.created", Subject: "9", Time: at,
				Data: json.RawMessage(`{"total_amount": 5}`)},
		},
		{
			name: "plain text",
			m:    kafka.Message{Topic: "audit", Value: []byte("hello"), Time: at},
			want: events.Event{ID: "audit/0/0", Type: "audit", Source: "kafka:audit", Time: at, Data: json.RawMessage(`"hello"`)},
		},
		{
			name: "structured",
			m: kafka.Message{Topic: "user.created", Time: at, Headers: hdr("content-type", "application/cloudevents+json"),
				Value: []byte(`{"specversion":"1.0","id":"u1","type":"user.created","source":"/x","subject":"1","time":"2026-11-25T08:00:00Z","data":{"a":1}}`)},
			want: events.Event{ID: "u1", Type: "user.created", Source: "/x", Subject: "1", Time: at.Add(-time.Hour), Data: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "structured without a content type",
			m:    kafka.Message{Topic: "user.created", Time: at, Value: []byte(`{"specversion":"1.0","id":"u2","type":"user.created","source":"/x"}`)},
			want: events.Event{ID: "u2", Type: "user.created", Source: "/x", Time: at},
		},
		{
			name: "binary without a time takes the message's",
			m:    kafka.Message{Topic: "t", Time: at, Headers: hdr("ce_specversion", "1.0", "ce_id", "b1", "ce_type", "t", "ce_source", "/s")},
			want: events.Event{ID: "b1", Type: "t", Source: "/s", Time: at},
		},
		{name: "binary without an id", m: kafka.Message{Headers: hdr("ce_specversion", "1.0", "ce_type", "t")}, err: "without an id"},
		{name: "binary without a type", m: kafka.Message{Headers: hdr("ce_specversion", "1.0", "ce_id", "x")}, err: "has no type"},
		{name: "binary with a bad time", m: kafka.Message{Headers: hdr("ce_specversion", "1.0", "ce_id", "x", "ce_type", "t", "ce_time", "yesterday")}, err: "not an RFC 3339 time"},
		{name: "binary with data that is not JSON", m: kafka.Message{Value: []byte("{"), Headers: hdr("ce_specversion", "1.0", "ce_id", "x", "ce_type", "t")}, err: "not JSON"},
		{name: "structured, broken", m: kafka.Message{Value: []byte(`{"specversion": 1}`), Headers: hdr("content-type", "application/cloudevents+json")}, err: "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.m)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decode = %+v, %v\nwant %+v", got, err, c.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("t", []byte("k"), []byte(`{"a":1}`), "ce_specversion", "1.0", "ce_id", "x")
	f.Add("t", []byte(nil), []byte(`{"specversion":"1.0","id":"i","type":"t"}`), "content-type", "application/cloudevents+json", "", "")
	f.Add("t", []byte(nil), []byte("plain"), "", "", "", "")
	f.Fuzz(func(t *testing.T, topic string, key, value []byte, k1, v1, k2, v2 string) {
		m := kafka.Message{Topic: topic, Key: key, Value: value,
			Headers: []kafka.Header{{Key: k1, Value: []byte(v1)}, {Key: k2, Value: []byte(v2)}}}
		e, err := Decode(m)
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" && topic != "" {
			t.Fatalf("an event without an id or type: %+v", e)
		}
		if len(e.Data) > 0 && !json.Valid(e.Data) {
			t.Fatalf("data that is not JSON: %q", e.Data)
		}
		// What Decode accepted, Encode writes and Decode reads the same.
		again, err := Decode(Encode(e.Type, e))
		if err != nil || !reflect.DeepEqual(again.Data, e.Data) || again.ID != e.ID || !again.Time.Equal(e.Time) {
			t.Fatalf("round trip: %+v, %v; was %+v", again, err, e)
		}
	})
}
