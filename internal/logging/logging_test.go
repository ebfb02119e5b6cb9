package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestJSONWithRequestAndTraceIDsAndNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "", slog.LevelInfo) // a buffer is not a terminal: JSON
	TraceID = func(ctx context.Context) string { return "4bf92f3577b34da6a3ce929d0e0e4736" }
	defer func() { TraceID = nil }()
	ctx := WithRequestID(context.Background(), "req-7")
	log.InfoContext(ctx, "upstream call failed", "service", "billing", "password", "hunter2", "SASL_Password", "x", "api_key", "k")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not a JSON line: %q", buf.String())
	}
	for k, want := range map[string]string{"msg": "upstream call failed", "request_id": "req-7", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"service": "billing", "password": Redacted, "SASL_Password": Redacted, "api_key": Redacted} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %q", k, rec[k], want)
		}
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("a secret was printed: %s", buf.String())
	}
}

func TestTextFormatAndNoContext(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "text", slog.LevelInfo).With("component", "gateway")
	log.Info("started")
	if got := buf.String(); !strings.Contains(got, "msg=started component=gateway") || strings.Contains(got, "request_id") {
		t.Fatalf("text line %q", got)
	}
}
