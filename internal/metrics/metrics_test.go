package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A Route counts what Request counts, under the same labels, whatever
// the method and status.
func TestRouteCountsAsRequest(t *testing.T) {
	m := New()
	r := m.Route("billing", "/billing/*path")
	for _, c := range []struct {
		method string
		status int
	}{{"GET", 200}, {"GET", 200}, {"GET", 503}, {"PROPFIND", 207}, {"POST", 1099}, {"DELETE", 404}} {
		r.Request(c.method, c.status, time.Millisecond)
		m.Request("billing", "/billing/*path", c.method, c.status, time.Millisecond)
	}
	want := `
# HELP composer_http_requests_total Requests the gateway answered, by service, route, method and status class.
# TYPE composer_http_requests_total counter
composer_http_requests_total{code="10xx",method="POST",route="/billing/*path",service="billing"} 2
composer_http_requests_total{code="2xx",method="GET",route="/billing/*path",service="billing"} 4
composer_http_requests_total{code="2xx",method="PROPFIND",route="/billing/*path",service="billing"} 2
composer_http_requests_total{code="4xx",method="DELETE",route="/billing/*path",service="billing"} 2
composer_http_requests_total{code="5xx",method="GET",route="/billing/*path",service="billing"} 2
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "composer_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("duration series: %d", n)
	}
	// Nothing is counted before a route's first request.
	m.Route("billing", "/billing/other")
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("duration series after an unused route: %d", n)
	}
	var none *Metrics
	none.Route("a", "/a").Request("GET", 200, time.Millisecond) // counts nothing, does not panic
}
