package events

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		headers                 map[string]string
		types                   []string
		err                     string
	}{
		{"structured", "application/cloudevents+json", `{"specversion":"1.0","type":"invoice.paid","subject":"7","data":{"amount":3}}`, nil, []string{"invoice.paid"}, ""},
		{"batch", "application/cloudevents-batch+json", `[{"type":"a"},{"type":"b","id":"x1"}]`, nil, []string{"a", "b"}, ""},
		{"binary", "application/json", `{"amount":3}`, map[string]string{"ce-type": "invoice.paid", "ce-id": "e1", "ce-specversion": "1.0"}, []string{"invoice.paid"}, ""},
		{"no type", "application/cloudevents+json", `{"data":1}`, nil, nil, "no type"},
		{"data not JSON", "text/plain", `hello`, map[string]string{"ce-type": "t"}, nil, "not JSON"},
		{"nothing", "application/json", `{}`, nil, nil, "no event"},
		{"empty batch", "application/cloudevents-batch+json", `[]`, nil, nil, "1 to 1000"},
		{"two values", "application/cloudevents+json", `{"type":"a"}{"type":"b"}`, nil, nil, "more than one"},
		{"bad time", "application/cloudevents+json", `{"type":"a","time":"yesterday"}`, nil, nil, "RFC 3339"},
		{"spec 0.3", "application/cloudevents+json", `{"type":"a","specversion":"0.3"}`, nil, nil, "only 1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "/", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			es, err := ParseRequest(req)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != len(tc.types) {
				t.Fatalf("%d events", len(es))
			}
			for i, e := range es {
				if e.Type != tc.types[i] || e.ID == "" || e.Time.IsZero() {
					t.Errorf("event %d: %+v", i, e)
				}
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("application/cloudevents+json", `{"type":"a","data":{"x":1}}`)
	f.Add("application/cloudevents-batch+json", `[{"type":"a"}]`)
	f.Add("", `{"x":1}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req, _ := http.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("ce-type", "t")
		es, err := ParseRequest(req)
		if err == nil {
			for _, e := range es {
				if e.Type == "" || e.ID == "" {
					t.Fatalf("an event without type or id: %+v", e)
				}
			}
		}
	})
}
