// Package ratelimit bounds how often each client calls a service: a
// token bucket per key (golang.org/x/time/rate), the key being the
// client's address, a header, a JWT claim or the API key. Limits are per
// composer instance: several composers in front of one service each
// allow the full rate.
package ratelimit

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Settings are a service's `rate_limit { requests, per, burst, key }`.
// The JSON names are the platform file's keys.
type Settings struct {
	Requests int           `json:"requests"` // per Per
	Per      time.Duration `json:"per"`
	Burst    int           `json:"burst"` // the most at once
	Key      string        `json:"key"`   // client_ip | header:NAME | jwt:CLAIM | api_key
}

// Defaults are what a rate_limit gets for the keys it does not set (a
// burst of Requests): the one place they are written.
var Defaults = Settings{Per: time.Second, Key: "client_ip"}

// WithDefaults fills what s leaves unset.
func (s Settings) WithDefaults() *Settings {
	if s.Per <= 0 {
		s.Per = Defaults.Per
	}
	if s.Burst <= 0 {
		s.Burst = s.Requests
	}
	if s.Key == "" {
		s.Key = Defaults.Key
	}
	return &s
}

// ValidKey reports whether a key is one Limiter knows.
func ValidKey(key string) bool {
	switch {
	case key == "client_ip", key == "api_key":
		return true
	case strings.HasPrefix(key, "header:"), strings.HasPrefix(key, "jwt:"):
		_, name, _ := strings.Cut(key, ":")
		return name != ""
	}
	return false
}

// maxKeys bounds the buckets a limiter keeps: past it, the buckets idle
// longest are dropped (a dropped bucket is a full one again, which is
// what an idle client's would be).
const maxKeys = 100_000

// Limiter is one service's limit. Safe for concurrent use.
type Limiter struct {
	s       Settings
	limit   rate.Limit
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns the limiter of s (with its defaults).
func New(s Settings) *Limiter {
	s = *s.WithDefaults()
	return &Limiter{s: s, limit: rate.Limit(float64(s.Requests) / s.Per.Seconds()), buckets: map[string]*bucket{}}
}

// Describe says the limit as a person would: "100 per 1s (burst 20)".
func (l *Limiter) Describe() string {
	return fmt.Sprintf("%d per %s (burst %d)", l.s.Requests, l.s.Per, l.s.Burst)
}

// Settings are the limiter's own.
func (l *Limiter) Settings() Settings { return l.s }

// Decision is the outcome of a request's Take.
type Decision struct {
	Allowed    bool
	Remaining  int           // tokens left after it
	RetryAfter time.Duration // when refused: until a token is back
	Reset      time.Duration // until the bucket is full again
}

// Take takes a token for key.
func (l *Limiter) Take(key string, now time.Time) Decision {
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.s.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	l.mu.Unlock()
	allowed := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	d := Decision{Allowed: allowed, Remaining: max(int(math.Floor(tokens)), 0)}
	perToken := time.Duration(float64(time.Second) / float64(l.limit))
	d.Reset = time.Duration((float64(l.s.Burst) - tokens) * float64(perToken))
	if !allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(perToken))
	}
	return d
}

// evict drops the buckets that are full again (idle long enough), or, if
// none is, the oldest half. Called with mu held.
func (l *Limiter) evict(now time.Time) {
	full := time.Duration(float64(l.s.Burst) / float64(l.limit) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxKeys {
		return
	}
	var cut time.Time
	for _, b := range l.buckets {
		if cut.IsZero() || b.seen.Before(cut) {
			cut = b.seen
		}
	}
	mid := cut.Add(now.Sub(cut) / 2)
	for k, b := range l.buckets {
		if b.seen.Before(mid) {
			delete(l.buckets, k)
		}
	}
}

// Headers sets the answer's RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (seconds), and Retry-After on a refusal.
func (l *Limiter) Headers(h http.Header, d Decision) {
	h.Set("RateLimit-Limit", strconv.Itoa(l.s.Requests))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(d.Reset.Seconds()))))
	if !d.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(int(math.Ceil(d.RetryAfter.Seconds())), 1)))
	}
}

// Proxies are the trusted proxies of [composer] trusted_proxies.
type Proxies []netip.Prefix

// ParseProxies reads addresses and CIDR ranges.
func ParseProxies(list []string) (Proxies, error) {
	var out Proxies
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is a request's client address: the connection's, unless the
// connection comes from a trusted proxy; then the last address of
// X-Forwarded-For that is not a trusted proxy's (the one the nearest
// trusted proxy saw), so that a client cannot name itself.
func (p Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || len(p) == 0 || !p.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return host // a malformed chain: the proxy's own address
		}
		if !p.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}
