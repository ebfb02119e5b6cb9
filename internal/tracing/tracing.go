// Package tracing is the composer's OpenTelemetry tracing: spans for
// gateway requests, calls to services, event publishes and deliveries,
// joined into one trace by W3C trace context (the traceparent header over
// HTTP, the traceparent attribute of events).
//
// Tracing is off unless Setup is given an OTLP endpoint (or finds the
// standard OTEL_EXPORTER_OTLP_* variables), or a test installs a provider
// with Use. Off, the instrumented code checks Enabled and does nothing
// else.
package tracing

import (
	"context"
	"net/http"
	"os"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tuskcompose/composer/internal/logging"
)

var enabled atomic.Bool

// Enabled says whether spans are recorded.
func Enabled() bool { return enabled.Load() }

// Setup turns tracing on with an OTLP/HTTP exporter when endpoint (host:port
// or URL) is set, or when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is (the exporter reads those and the
// other OTEL_* variables itself). It returns the function that flushes and
// stops the exporter; with tracing off, a no-op.
func Setup(ctx context.Context, endpoint, service string) (shutdown func(context.Context) error, err error) {
	if endpoint == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(endpointURL(endpoint)))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	res, _ := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service)))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Use(tp)
	return tp.Shutdown, nil
}

func endpointURL(e string) string {
	if len(e) > 7 && (e[:7] == "http://" || len(e) > 8 && e[:8] == "https://") {
		return e
	}
	return "http://" + e + "/v1/traces"
}

// Use installs a tracer provider and turns tracing on (tests use one with
// an in-memory exporter).
func Use(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	logging.TraceID = TraceID
	enabled.Store(true)
}

// Off turns tracing off again (tests).
func Off() {
	enabled.Store(false)
	otel.SetTracerProvider(noop.NewTracerProvider())
	logging.TraceID = nil
}

// Tracer is the composer's tracer.
func Tracer() trace.Tracer { return otel.Tracer("github.com/tuskcompose/composer") }

var propagator = propagation.TraceContext{}

// Inject writes ctx's span context into headers (traceparent).
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract reads the span context of headers into ctx.
func Extract(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// TraceParent returns ctx's span context as a W3C traceparent ("" when
// ctx has none, or tracing is off).
func TraceParent(ctx context.Context) string {
	if !Enabled() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceParent returns ctx with the remote span context of a W3C
// traceparent (ctx itself for "").
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// TraceID returns the trace id of ctx's span ("" for none).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
