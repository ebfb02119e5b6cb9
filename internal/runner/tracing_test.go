package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tuskcompose/composer/internal/tracing"
)

// TestOneTraceFromOrderToNotification follows POST /orders through the
// users check and the order's event to the notification, in one trace,
// with an in-memory exporter.
func TestOneTraceFromOrderToNotification(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	defer tracing.Off()
	p := startPlatform(t, "")
	gw := "http://" + p.r.GatewayAddr()
	user := createUser(t, gw, "ada")
	status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":5}]}`, user))
	if status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	byName := func() map[string][]tracetest.SpanStub {
		out := map[string][]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			out[s.Name] = append(out[s.Name], s)
		}
		return out
	}
	eventually(t, "the order confirmation's delivery span", func() bool { return len(byName()["deliver order_confirmation"]) > 0 })
	spans := byName()
	order := spans["POST /orders"]
	if len(order) != 1 {
		t.Fatalf("POST /orders spans: %d (spans: %v)", len(order), names(spans))
	}
	trace := order[0].SpanContext.TraceID()
	inTrace := map[string]tracetest.SpanStub{}
	named := map[string][]tracetest.SpanStub{} // a name may come twice: both orders and notifications ask users
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() == trace {
			inTrace[s.Name] = s
			named[s.Name] = append(named[s.Name], s)
		}
	}
	// The chain: the gateway's span of POST /orders; the orders service's
	// call to users through the mesh; users' span of that gRPC call; the
	// publish of order.created; its delivery to the notifications.
	parent := [][2]string{
		{"call orders->users", "POST /orders"},
		{"shop.v1.Users/GetUser", "call orders->users"},
		{"publish order.created", "POST /orders"},
		{"deliver order_confirmation", "POST /orders"},
		{"call notifications->users", "deliver order_confirmation"}, // the confirmation's address
		{"shop.v1.Users/GetUser", "call notifications->users"},
	}
	for _, pc := range parent {
		child, want := pc[0], pc[1]
		if len(named[child]) == 0 {
			t.Errorf("span %q is not in the order's trace (it has %v)", child, keys(inTrace))
			continue
		}
		found := false
		for _, c := range named[child] {
			for _, p := range named[want] {
				found = found || c.Parent.SpanID() == p.SpanContext.SpanID()
			}
		}
		if !found {
			t.Errorf("no span %q has %q as its parent", child, want)
		}
	}
	if s := inTrace["POST /orders"]; !hasAttr(s, "http.route", "/orders") || !hasAttr(s, "service", "orders") {
		t.Errorf("POST /orders attributes: %v", s.Attributes)
	}
	// The trace as text, for people (TRACE_SAMPLE=FILE keeps it).
	var all []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() == trace {
			all = append(all, s)
		}
	}
	text := renderTrace(all)
	os.WriteFile(filepath.Join(t.ArtifactDir(), "trace.txt"), []byte(text), 0o644)
	if dest := os.Getenv("TRACE_SAMPLE"); dest != "" {
		os.WriteFile(dest, []byte(text), 0o644)
	}
}

// renderTrace draws a trace's spans as a tree, each with its duration.
func renderTrace(spans []tracetest.SpanStub) string {
	children := map[string][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID().String()] = true
	}
	for _, s := range spans {
		if p := s.Parent.SpanID().String(); s.Parent.IsValid() && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s tracetest.SpanStub, prefix, branch string)
	walk = func(s tracetest.SpanStub, prefix, branch string) {
		name := prefix + branch + s.Name
		pad := strings.Repeat(" ", max(44-utf8.RuneCountInString(name), 1))
		fmt.Fprintf(&b, "%s%s%8.2f ms\n", name, pad, float64(s.EndTime.Sub(s.StartTime).Microseconds())/1000)
		kids := children[s.SpanContext.SpanID().String()]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime.Before(kids[j].StartTime) })
		next := prefix
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		for i, k := range kids {
			br := "├─ "
			if i == len(kids)-1 {
				br = "└─ "
			}
			walk(k, next, br)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	return b.String()
}

func names(m map[string][]tracetest.SpanStub) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keys(m map[string]tracetest.SpanStub) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}

func hasAttr(s tracetest.SpanStub, k, v string) bool {
	for _, a := range s.Attributes {
		if string(a.Key) == k && a.Value.AsString() == v {
			return true
		}
	}
	return false
}
