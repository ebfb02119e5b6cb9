package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/tuskcompose/composer/internal/breaker"
)

// grpcOutcome is what a gRPC status code means to a breaker: the
// server's trouble (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE,
// DATA_LOSS) is a failure; OK and the caller's own errors
// (INVALID_ARGUMENT, NOT_FOUND, ...) are successes; CANCELLED, the
// client giving up, is nothing.
func grpcOutcome(code string) breaker.Outcome {
	switch code {
	case "2", "4", "13", "14", "15":
		return breaker.Failure
	case "1":
		return breaker.Ignored
	}
	return breaker.Success
}

// grpcBody holds back the outcome of a gRPC call whose status comes in
// the trailers, until the body has been read to its end (or closed).
type grpcBody struct {
	io.ReadCloser
	resp *http.Response
	ctx  context.Context
	once sync.Once
	done func(breaker.Outcome) // nil: the outcome was known from the headers
}

func (b *grpcBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *grpcBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

func (b *grpcBody) finish() {
	b.once.Do(func() {
		if in, ok := b.ctx.Value(inboundKey{}).(io.Closer); ok {
			in.Close() // the answer has ended: the client's side of the stream too
		}
		if b.done == nil {
			return // counted from the headers already
		}
		code := b.resp.Trailer.Get("Grpc-Status")
		switch {
		case code != "":
			b.done(grpcOutcome(code))
		case b.ctx.Err() != nil:
			b.done(breaker.Ignored) // the client went away
		default:
			b.done(breaker.Failure) // the stream ended without a status
		}
	})
}
