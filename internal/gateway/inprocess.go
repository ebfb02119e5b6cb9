package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// InProcess is a transport that serves each request with a handler of
// this process (a built-in service), for calls between services that
// both live in the composer: they take the request path (Upstream's
// breaker, retries, metrics, spans) without a socket. The handler is
// read at each call: set it before the first. The answer is whole in
// memory when RoundTrip returns, its trailers included (a gRPC call's
// grpc-status), so it suits calls that answer once, not streams.
type InProcess struct {
	Handler http.Handler
}

// RoundTrip implements http.RoundTripper.
func (t *InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	t.Handler.ServeHTTP(w, req)
	if req.Body != nil {
		req.Body.Close()
	}
	header := w.sent
	if header == nil {
		header = w.header
	}
	return &http.Response{
		Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status), StatusCode: w.status,
		Proto: req.Proto, ProtoMajor: req.ProtoMajor, ProtoMinor: req.ProtoMinor, Header: header, Trailer: w.trailers(),
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// recorder is the answer of an in-process call, whole in memory.
type recorder struct {
	header      http.Header
	sent        http.Header // the header as it was when written
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
		w.sent = w.header.Clone()
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush implements http.Flusher (the answer is whole anyway).
func (w *recorder) Flush() { w.WriteHeader(http.StatusOK) }

// trailers are the answer's trailers, as net/http's server would send
// them: the keys announced in the Trailer header, and those set with
// http.TrailerPrefix (nil: none).
func (w *recorder) trailers() http.Header {
	if w.sent == nil {
		return nil
	}
	var out http.Header
	add := func(k string, v []string) {
		if out == nil {
			out = http.Header{}
		}
		out[http.CanonicalHeaderKey(k)] = v
	}
	for _, line := range w.sent.Values("Trailer") {
		for _, k := range strings.Split(line, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if v, ok := w.header[http.CanonicalHeaderKey(k)]; ok {
					add(k, v)
				}
			}
		}
	}
	for k, v := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			add(strings.TrimPrefix(k, http.TrailerPrefix), v)
		}
	}
	if out != nil {
		w.sent.Del("Trailer")
	}
	return out
}
