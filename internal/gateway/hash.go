package gateway

import (
	"net"
	"net/http"
	"strings"
)

// ValidHashOn reports whether spec is a consistent_hash key: header:NAME,
// cookie:NAME or client_ip.
func ValidHashOn(spec string) bool {
	kind, name, _ := strings.Cut(spec, ":")
	switch kind {
	case "header", "cookie":
		return name != ""
	case "client_ip":
		return name == ""
	}
	return false
}

// HashKey returns what a request's consistent_hash key is, for a spec
// ValidHashOn accepts (nil for none): a header's value, a cookie's value
// or the client's address (without its port). A request without the key
// has the empty key, which the balancer spreads round robin.
func HashKey(spec string) func(*http.Request) string {
	kind, name, _ := strings.Cut(spec, ":")
	switch kind {
	case "header":
		name = http.CanonicalHeaderKey(name)
		return func(r *http.Request) string { return r.Header.Get(name) }
	case "cookie":
		return func(r *http.Request) string {
			if c, err := r.Cookie(name); err == nil {
				return c.Value
			}
			return ""
		}
	case "client_ip":
		return func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	return nil
}
