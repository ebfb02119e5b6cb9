package composer

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// scrape returns the lines of /metrics that are samples.
func scrape(t *testing.T, admin string) map[string]string {
	t.Helper()
	status, body := call(t, "GET", admin+"/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	out := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[line[:i]] = line[i+1:]
	}
	return out
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.WriteHeader(500)
	}))
	defer failing.Close()
	p := startPlatform(t, "")
	p.rewrite(t, fmt.Sprintf(`
[services]
billing { kind: "http", instances: [%q], routes: ["/billing/*path"] }
`, failing.URL))
	if res := p.r.Reload(); !res.OK {
		t.Fatalf("reload: %+v", res)
	}
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()
	createUser(t, gw, "ada")
	call(t, "GET", gw+"/nowhere", "")
	for i := 0; i < 3; i++ { // the breaker opens after 2 failures (failure_threshold: 2)
		call(t, "GET", gw+"/billing/invoices", "")
	}
	eventually(t, "the welcome", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Contains(body, "welcome")
	})
	m := scrape(t, admin)
	want := map[string]string{
		`composer_http_requests_total{code="2xx",method="POST",route="/users",service="users"}`:          "1",
		`composer_http_requests_total{code="4xx",method="GET",route="unmatched",service="none"}`:         "1",
		`composer_http_requests_total{code="5xx",method="GET",route="/billing/*path",service="billing"}`: "3",
		`composer_http_request_duration_seconds_count{route="/billing/*path",service="billing"}`:         "3",
		`composer_upstream_tries_total{outcome="failure",retry="false",service="billing"}`:               "2",
		`composer_breaker_state{state="open",target="billing"}`:                                          "1",
		`composer_breaker_state{state="closed",target="billing"}`:                                        "0",
		`composer_breaker_transitions_total{target="billing"}`:                                           "1",
		`composer_breaker_rejected_total{target="billing"}`:                                              "1",
		fmt.Sprintf(`composer_instance_healthy{instance=%q,service="billing"}`, failing.URL):             "1",
		`composer_events_published_total{topic="user.created"}`:                                          "1",
		`composer_events_total{outcome="delivered",route="welcome"}`:                                     "1",
		`composer_reloads_total{result="applied"}`:                                                       "1",
		`composer_generation`:    "2",
		`composer_outbox_events`: "0",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %s", k, m[k], v)
		}
	}
}

func TestMetricsOff(t *testing.T) {
	p := startPlatform(t, "\n[microservices_configuration]\nenable_metrics: false\n")
	if status, _ := call(t, "GET", "http://"+p.r.AdminAddr()+"/metrics", ""); status != 404 {
		t.Fatalf("/metrics with enable_metrics: false: %d", status)
	}
}
