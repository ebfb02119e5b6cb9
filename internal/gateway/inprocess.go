package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// InProcess is a transport that serves each request with a handler of
// this process (a built-in service), for calls between services that
// both live in the composer: they take the request path (Upstream's
// breaker, retries, metrics, spans) without a socket. The handler is
// read at each call: set it before the first.
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
	return &http.Response{
		Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// recorder is the answer of an in-process call, whole in memory.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
