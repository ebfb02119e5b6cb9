package gateway

import (
	"errors"
	"net/url"
	"strings"
)

// ErrEncodedSlash is the refusal of a path that holds an encoded slash or
// backslash (%2F, %5C): routes split paths on "/", and an instance that
// decoded it would see another path than the one that was routed.
var ErrEncodedSlash = errors.New("the path holds an encoded slash (%2F or %5C)")

// NormalizePath is a request path as the gateway routes it, from its
// escaped form (URL.EscapedPath): percent-encoded dots decoded, repeated
// slashes merged, dot segments removed (RFC 3986 5.2.4, never above the
// root), a trailing slash kept; an encoded slash or backslash is
// ErrEncodedSlash. What it returns is escaped as it came, but for those
// changes, and never holds a dot segment.
func NormalizePath(escaped string) (string, error) {
	if escaped == "" || escaped == "*" {
		return escaped, nil
	}
	if strings.Contains(escaped, "%") {
		lower := strings.ToLower(escaped)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return "", ErrEncodedSlash
		}
		escaped = strings.NewReplacer("%2e", ".", "%2E", ".").Replace(escaped)
	}
	if !strings.HasPrefix(escaped, "/") {
		escaped = "/" + escaped
	}
	if !strings.Contains(escaped, "//") && !strings.Contains(escaped, "/.") {
		return escaped, nil // the common case: nothing to do
	}
	segments := strings.Split(escaped[1:], "/")
	out := make([]string, 0, len(segments))
	trailing := false
	for i, seg := range segments {
		last := i == len(segments)-1
		switch seg {
		case "", ".":
			trailing = last // "/a/" and "/a/." end in a slash
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
			continue
		}
		out = append(out, seg)
		trailing = false
	}
	p := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		p += "/"
	}
	return p, nil
}

// NormalizeURL rewrites u's path, in place, to the path the gateway
// routes (NormalizePath): the path that gin, strip_prefix and the
// instance see. Its error (an encoded slash) is the request's 400.
func NormalizeURL(u *url.URL) error {
	escaped := u.EscapedPath()
	p, err := NormalizePath(escaped)
	if err != nil || p == escaped {
		return err
	}
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = decoded, ""
	if u.EscapedPath() != p {
		u.RawPath = p
	}
	return nil
}
