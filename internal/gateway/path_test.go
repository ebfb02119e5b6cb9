package gateway

import (
	"net/url"
	"strings"
	"testing"
)

// TestNormalizePath: traversal in all its spellings resolves inside the
// root, and an encoded slash is refused.
func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/users/1", "/users/1"},
		{"/billing/../users/1", "/users/1"},
		{"/billing/%2e%2e/users/1", "/users/1"},
		{"/billing/%2E%2e/%2e/users", "/users"},
		{"/billing/.%2e/users", "/users"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/./b/../c", "/a/c"},
		{"//a///b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a/b/.", "/a/b/"},
		{"/a/b/..", "/a/"},
		{"/..", "/"},
		{"/a/..../b", "/a/..../b"}, // not a dot segment
		{"/a/.b/c.", "/a/.b/c."},
		{"/files/report%20final.pdf", "/files/report%20final.pdf"},
		{"/%252e%252e/x", "/%252e%252e/x"}, // a literal "%2e", double-encoded: not a dot
		{"relative/../x", "/x"},
	} {
		got, err := NormalizePath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"/billing/..%2f..%2fadmin", "/billing/a%2Fb", "/a%5c..%5cb", "/a%5Cb"} {
		if got, err := NormalizePath(in); err != ErrEncodedSlash {
			t.Errorf("NormalizePath(%q) = %q, %v; want ErrEncodedSlash", in, got, err)
		}
	}
	u, _ := url.Parse("http://127.0.0.1/billing/../caf%C3%A9/%20x")
	if err := NormalizeURL(u); err != nil || u.Path != "/café/ x" || u.EscapedPath() != "/caf%C3%A9/%20x" {
		t.Errorf("NormalizeURL: %q %q %v", u.Path, u.EscapedPath(), err)
	}
}

// FuzzNormalizePath: whatever a client sends, the normalized path has no
// dot segment, no empty segment but a trailing slash, no encoded slash,
// and normalizing it again changes nothing.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/billing/../users/1", "/%2e%2e/%2E./x", "//a//b/", "/a%2fb", "/a/./b/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := NormalizePath(in)
		if err != nil {
			return
		}
		if in != "" && in != "*" {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
				t.Fatalf("%q -> %q", in, p)
			}
			for _, seg := range strings.Split(p, "/") {
				if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e%2e") {
					t.Fatalf("%q -> %q holds a dot segment", in, p)
				}
			}
		}
		if strings.Contains(strings.ToLower(p), "%2f") {
			t.Fatalf("%q -> %q holds an encoded slash", in, p)
		}
		if again, err := NormalizePath(p); err != nil || again != p {
			t.Fatalf("%q -> %q -> %q %v", in, p, again, err)
		}
	})
}
