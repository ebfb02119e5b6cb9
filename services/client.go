package services

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/tracing"
)

// UsersClient asks the users service over HTTP whether a user exists,
// through the circuit breaker of that call: the seed's
// ResilientUserServiceClient.
type UsersClient struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	HTTP    *http.Client
	// Breaker, when set, guards the call here, with a span of its own.
	// The composer leaves it nil: HTTP's transport is the gateway's
	// request path (gateway.Upstream.RoundTripper), which has the
	// breaker, retries, timeouts, metrics and spans of any call.
	Breaker *breaker.Breaker
}

// UserExists implements UserChecker.
func (u *UsersClient) UserExists(ctx context.Context, id uint64) (bool, error) {
	ticket, _, ok := u.Breaker.Allow()
	if !ok {
		return false, fmt.Errorf("%w (circuit breaker open)", ErrUsersUnavailable)
	}
	if tracing.Enabled() && u.Breaker != nil {
		var span trace.Span
		ctx, span = tracing.Tracer().Start(ctx, "call users", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.Int64("user.id", int64(id))))
		defer span.End()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/users/%d", u.BaseURL, id), nil)
	if err != nil {
		u.Breaker.Done(ticket, breaker.Ignored)
		return false, err
	}
	if tracing.Enabled() {
		tracing.Inject(ctx, req.Header)
	}
	resp, err := u.HTTP.Do(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	u.Breaker.Done(ticket, breaker.Classify(status, err, ctx))
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: %v", ErrUsersUnavailable, err)
	case status == http.StatusOK:
		return true, nil
	case status == http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("%w: it answered %d", ErrUsersUnavailable, status)
}
