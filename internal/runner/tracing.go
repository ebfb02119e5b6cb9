package runner

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tuskcompose/composer/internal/events"
	"github.com/tuskcompose/composer/internal/gateway"
	"github.com/tuskcompose/composer/internal/tracing"
)

// traceRequests is the gateway's middleware that makes a server span of
// every request, joined to the caller's trace (traceparent), and named
// after the route that served it.
func traceRequests(routes map[string]string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := tracing.Extract(c.Request.Context(), c.Request.Header)
		ctx, span := tracing.Tracer().Start(ctx, c.Request.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("url.path", c.Request.URL.Path),
				attribute.String("request.id", c.GetHeader("X-Request-Id"))))
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		span.SetName(c.Request.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status),
			attribute.String("service", routes[route]))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		if svc, method, ok := gateway.GRPCMethod(c.Request.URL.Path); ok && gateway.IsGRPC(c.Request) {
			grpcSpan(span, svc, method, gateway.AnsweredGRPCStatus(c.Writer.Header()))
		}
		span.End()
	}
}

// grpcSpan names a gRPC call's server span after its method
// (shop.v1.Users/GetUser) and gives it OpenTelemetry's RPC attributes;
// the server's trouble (gateway.GRPCDefaults' failure codes, or no
// status) is an error.
func grpcSpan(span trace.Span, service, method, status string) {
	span.SetName(service + "/" + method)
	span.SetAttributes(attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", service), attribute.String("rpc.method", method))
	code, err := strconv.Atoi(status)
	if err != nil {
		span.SetStatus(codes.Error, "the call ended without a grpc-status")
		return
	}
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", code))
	if grpcFailures.Has(code) {
		span.SetStatus(codes.Error, gateway.GRPCCodes[code])
	}
}

// grpcFailures are the codes a gRPC server span counts as an error.
var grpcFailures = gateway.GRPCDefaults.Policy().Failures

// tracingBus makes a producer span of every event the relay publishes, in
// the trace of the request that wrote it.
type tracingBus struct{ events.Bus }

func (b tracingBus) spans(ctx context.Context, es []events.Event) []trace.Span {
	spans := make([]trace.Span, len(es))
	for i, e := range es {
		_, spans[i] = tracing.Tracer().Start(tracing.WithTraceParent(ctx, e.TraceParent), "publish "+e.Type,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("event.id", e.ID), attribute.String("event.type", e.Type)))
	}
	return spans
}

func end(spans []trace.Span, err error) {
	for _, s := range spans {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
}

func (b tracingBus) Publish(ctx context.Context, e events.Event) error {
	spans := b.spans(ctx, []events.Event{e})
	err := b.Bus.Publish(ctx, e)
	end(spans, err)
	return err
}

func (b tracingBus) PublishBatch(ctx context.Context, es []events.Event) error {
	spans := b.spans(ctx, es)
	err := events.PublishAll(ctx, b.Bus, es)
	end(spans, err)
	return err
}
