package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"unsafe"
)

// RequestIDHeader carries a request's id, from the client or made up by the
// gateway, to the services and back in the answer.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an id (keeping the client's when it sent
// one) and returns it in the answer.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// (The header maps are canonical: the name is used as it is.)
		var id string
		if v := r.Header[RequestIDHeader]; len(v) > 0 {
			id = v[0]
		}
		var ids []string
		if id == "" || len(id) > 128 {
			ids = newRequestID().ids[:]
			r.Header[RequestIDHeader] = ids[0:1:1]
		} else {
			ids = []string{id}
		}
		w.Header()[RequestIDHeader] = ids[len(ids)-1:]
		// The id stays in the header (a context value would cost a copy
		// of the request on every request): log lines of a request add
		// it from there.
		next.ServeHTTP(w, r)
	})
}

// requestID is a made request id, its text and the header values that
// hold it (the request's and the answer's, each slice of ids full) in
// one allocation.
type requestID struct {
	ids [2]string
	hex [32]byte
}

// newRequestID makes a request id: 128 random bits in hex, as
// store.NewID's, from the runtime's generator (ChaCha8, seeded by the
// system, per thread) rather than the system's: an id tells one request
// from all others and is no secret, and the system's generator costs a
// system call or a vDSO call per request. Both of its ids are the id;
// its text is never written again once they are set.
func newRequestID() *requestID {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	x := new(requestID)
	hex.Encode(x.hex[:], raw[:])
	id := unsafe.String(&x.hex[0], len(x.hex)) // (x.hex is not written again: the string is immutable)
	x.ids = [2]string{id, id}
	return x
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

// Recover turns a handler's panic into a JSON 500 (Recovered).
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec := recover(); rec != nil {
				Recovered(log, w, r, rec)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Recovered answers a request whose handler panicked with rec: a JSON
// 500, logged with the stack when log is set; but http.ErrAbortHandler,
// the reverse proxy's signal that an answer broke off half-way, panics
// on to net/http, so that the client's connection (or HTTP/2 stream) is
// reset and a cut answer never looks complete. (gin's own Recovery
// swallows it, and net/http then ends a truncated body as if it were
// whole.) Call it from the deferred function that recovered.
func Recovered(log *slog.Logger, w http.ResponseWriter, r *http.Request, rec any) {
	if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(rec)
	}
	if log != nil {
		log.ErrorContext(r.Context(), "handler panicked", "request_id", r.Header.Get(RequestIDHeader),
			"path", r.URL.Path, "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
	}
	WriteError(w, r, http.StatusInternalServerError, "internal error")
}
