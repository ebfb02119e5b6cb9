package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
)

func benchTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
}

// BenchmarkProxy compares a request through the composer's upstream
// handler (breaker, balancer, try timeout, request id) with one through a
// bare httputil.ReverseProxy, against the same loopback upstream.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	bare := httputil.NewSingleHostReverseProxy(target)
	bare.Transport = benchTransport()
	in := balancer.NewInstance(up.URL)
	in.SetHealth(balancer.Healthy)
	bal, _ := balancer.New(balancer.RoundRobin, []*balancer.Instance{in})
	ours := RequestID(BodyLimit(1<<20, (&Upstream{Name: "bench", Balancer: bal, Timeout: 5 * time.Second,
		Breaker: breaker.New(breaker.Settings{FailureThreshold: 5}, nil, nil)}).Handler()))
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"composer", ours}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://gateway/x", nil)
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
