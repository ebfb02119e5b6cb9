package gateway

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
)

// BenchmarkResilience is three instances, one of which fails half of its
// requests (500), behind the gateway, with none of the request path's
// resilience, with retries alone, and with retries, backoff, the budget
// and outlier ejection. It reports the clients' success rate and p99, side
// by side in one run (figures in docs/benchmarks.md):
//
//	go test ./internal/gateway -run '^$' -bench Resilience -benchtime 2000x
func BenchmarkResilience(b *testing.B) {
	instance := func(failHalf bool) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(200 * time.Microsecond) // some work
			if failHalf && rand.IntN(2) == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		b.Cleanup(srv.Close)
		return srv
	}
	addrs := []string{instance(true).URL, instance(false).URL, instance(false).URL}
	for _, tc := range []struct {
		name    string
		up      Upstream
		outlier balancer.Outlier
	}{
		{"none", Upstream{}, balancer.Outlier{}},
		{"retries", Upstream{Retries: 2}, balancer.Outlier{}},
		{"retries+backoff+budget+ejection", Upstream{Retries: 2, Budget: &Budget{}, Retry: RetryDefaults}, balancer.OutlierDefaults},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ins []*balancer.Instance
			for _, a := range addrs {
				in := balancer.NewInstance(a)
				in.SetHealth(balancer.Healthy)
				ins = append(ins, in)
			}
			bal, _ := balancer.New(balancer.RoundRobin, ins)
			up := tc.up
			up.Name, up.Balancer = "s", bal.WithOutlier(tc.outlier)
			if up.Retry.BodyLimit == 0 {
				up.Retry.BodyLimit = RetryDefaults.BodyLimit
			}
			up.Breaker = breaker.New(breaker.Settings{FailureThreshold: 1 << 30}, nil, nil) // the breaker is not what is measured
			gw := httptest.NewServer(up.Handler())
			defer gw.Close()
			client := &http.Client{Timeout: 5 * time.Second}
			var took []time.Duration
			ok := 0
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				resp, err := client.Get(gw.URL + "/work")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok++
					}
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(100*float64(ok)/float64(b.N), "success%")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
