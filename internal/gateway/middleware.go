package gateway

import (
	"errors"
	"net/http"

	"github.com/tuskcompose/composer/internal/store"
)

// RequestIDHeader carries a request's id, from the client or made up by the
// gateway, to the services and back in the answer.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an id (keeping the client's when it sent
// one) and returns it in the answer.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || len(id) > 128 {
			id = store.NewID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		// The id stays in the header (a context value would cost a copy
		// of the request on every request): log lines of a request add
		// it from there.
		next.ServeHTTP(w, r)
	})
}

// DefaultMaxBodySize is the largest request body a service takes when it
// sets no max_body_size.
const DefaultMaxBodySize = 1 << 20

// BodyLimit refuses request bodies over limit bytes with a JSON 413.
func BodyLimit(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			WriteError(w, r, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// IsBodyTooLarge reports whether err comes from a body over BodyLimit's
// limit (for handlers that read bodies themselves).
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
