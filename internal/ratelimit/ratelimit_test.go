package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// TestTake: exactly burst requests at once, then a token per interval;
// keys are apart; the headers say what is left.
func TestTake(t *testing.T) {
	l := New(Settings{Requests: 2, Per: time.Second, Burst: 3})
	now := time.Now()
	for i := range 3 {
		if d := l.Take("a", now); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i+1, d)
		}
	}
	d := l.Take("a", now)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 500*time.Millisecond {
		t.Fatalf("the fourth at once: %+v", d)
	}
	h := http.Header{}
	l.Headers(h, d)
	if h.Get("Retry-After") != "1" || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") != "2" {
		t.Errorf("headers %v", h)
	}
	if d := l.Take("b", now); !d.Allowed {
		t.Error("another key shares the bucket")
	}
	if d := l.Take("a", now.Add(500*time.Millisecond)); !d.Allowed {
		t.Error("no token back after 500 ms at 2 a second")
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		remote, xff string
		proxies     Proxies
		want        string
	}{
		{"192.0.2.9:1000", "198.51.100.1", trusted, "192.0.2.9"},                 // not from a trusted proxy: its own address
		{"127.0.0.1:1000", "198.51.100.1", trusted, "198.51.100.1"},              // through the proxy
		{"127.0.0.1:1000", "203.0.113.5, 198.51.100.1", trusted, "198.51.100.1"}, // a client naming another: the last untrusted hop
		{"127.0.0.1:1000", "198.51.100.1, 10.1.2.3", trusted, "198.51.100.1"},    // two trusted proxies
		{"127.0.0.1:1000", "not-an-address", trusted, "127.0.0.1"},               // malformed
		{"127.0.0.1:1000", "198.51.100.1", nil, "127.0.0.1"},                     // nothing trusted
		{"[::ffff:127.0.0.1]:1000", "2001:db8::1", trusted, "2001:db8::1"},       // v4-mapped proxy, v6 client
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("X-Forwarded-For", tc.xff)
		if got := tc.proxies.ClientIP(r); got != tc.want {
			t.Errorf("%s via %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if _, err := ParseProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad range parsed")
	}
}

// BenchmarkTake is the cost a rate limit adds to a request, over 1,000
// client addresses.
func BenchmarkTake(b *testing.B) {
	l := New(Settings{Requests: 1 << 30, Per: time.Second})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.%d.%d", i/256, i%256)
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Take(keys[i%len(keys)], now)
		i++
	}
}

// FuzzClientIP: whatever X-Forwarded-For a client sends through a trusted
// proxy, ClientIP answers an address, never a trusted proxy's unless the
// chain is all proxies or malformed, and no panic.
func FuzzClientIP(f *testing.F) {
	trusted, _ := ParseProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	for _, s := range []string{"198.51.100.1", "1.2.3.4, 10.0.0.1", " , ,", "::1, 2001:db8::2", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:4000"
		r.Header.Set("X-Forwarded-For", xff)
		got := trusted.ClientIP(r)
		if got == "" {
			t.Fatalf("%q: no address", xff)
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("%q: %q is not an address", xff, got)
		}
	})
}
