package h1head

import "testing"

// TestFieldsSeen: Fields notes the fields of Has a head has, under any
// spelling of their names, and only those; and whether its lines are
// tidy (the header is the lines as they are written).
func TestFieldsSeen(t *testing.T) {
	for _, c := range []struct {
		block string
		want  Has
	}{
		{"", 0},
		{"Host: a\r\nAccept: */*\r\n", 0},
		{"Content-Length: 3\r\n", HasContentLength},
		{"content-length: 3\r\nTRANSFER-ENCODING: chunked\r\n", HasContentLength | HasTransferEncoding | Untidy},
		{"Connection: close\r\nPragma: no-cache\r\n", HasConnection | hasPragma | Untidy | hasClose},
		{"Connection: a\r\nconnection: b\r\n", HasConnection | Untidy | HasNamedHop},
		{"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n", HasConnection | hasKeepAlive | HasHopByHop},
		{"Connection: Keep-Alive, TE,, Upgrade\r\nConnection: CLOSE\r\n", HasConnection | hasKeepAlive | hasClose},
		{"Connection: keep-alive, X-Hop\r\nX-Hop: h\r\n", HasConnection | hasKeepAlive | HasNamedHop},
		{"Content-Lengths: 3\r\nX-Pragma: no\r\nConnectio: x\r\n", 0},
		{"Content-Type: text/plain\r\nContent-Encoding: gzip\r\nDate: Fri, 04 Dec 2026 01:49:09 GMT\r\n", HasContentType | HasContentEncoding | HasDate},
		{"Keep-Alive: 5\r\n", HasHopByHop},
		{"Te: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\n", HasHopByHop},
		{"Proxy-Connection: x\r\nProxy-Authenticate: y\r\nProxy-Authorization: z\r\n", HasHopByHop},
		{"TE: trailers\r\n", HasHopByHop | Untidy},
		{"X-A:  two spaces\r\n", Untidy},
		{"X-A:no space\r\n", Untidy},
		{"X-A: trailing \r\n", Untidy},
		{"X-A:\ttab\r\n", Untidy},
		{"X-A: \r\n", Untidy},
		{"X-A:\r\n", Untidy},
		{"X-A: in  between\r\nX-A: again\r\n", 0},
	} {
		h, seen, ok := Fields([]byte(c.block), nil)
		if !ok {
			t.Fatalf("Fields(%q) not plain", c.block)
		}
		if seen != c.want {
			t.Errorf("Fields(%q) saw %012b, want %012b", c.block, seen, c.want)
		}
		if sseen, _, _, sok := Scan(c.block); !sok || sseen != seen {
			t.Errorf("Scan(%q) = %09b, %v; Fields saw %09b", c.block, sseen, sok, seen)
		}
		if seen&hasPragma != 0 && h.Get("Cache-Control") != "no-cache" {
			t.Errorf("Fields(%q): Pragma: no-cache without Cache-Control: no-cache", c.block)
		}
		for name, bit := range map[string]Has{"Content-Length": HasContentLength, "Transfer-Encoding": HasTransferEncoding, "Connection": HasConnection, "Pragma": hasPragma} {
			if _, in := h[name]; in != (seen&bit != 0) {
				t.Errorf("Fields(%q): %s in the header is %v, in seen %v", c.block, name, in, seen&bit != 0)
			}
		}
	}
}

// TestRequestFields: a request's Host lines are kept out of its header,
// counted, and the first one's value returned; the other fields are as
// Fields reads them.
func TestRequestFields(t *testing.T) {
	for _, c := range []struct {
		block, host string
		hosts, n    int
	}{
		{"", "", 0, 0},
		{"Accept: */*\r\n", "", 0, 1},
		{"Host: a.example\r\nAccept: */*\r\n", "a.example", 1, 1},
		{"host: a\r\nX-A: 1\r\nHOST: b\r\n", "a", 2, 1},
		{"Host: \r\n", "", 1, 0},
		{"X-Host: x\r\nHosts: y\r\n", "", 0, 2},
	} {
		h, host, hosts, _, ok := RequestFields(c.block, nil)
		if !ok || host != c.host || hosts != c.hosts || len(h) != c.n || h["Host"] != nil {
			t.Errorf("RequestFields(%q) = %v, %q, %d hosts, %v; want %q, %d hosts, %d fields without Host", c.block, h, host, hosts, ok, c.host, c.hosts, c.n)
		}
	}
}

// FuzzScanAsFields: Scan takes the blocks Fields takes, sees what Fields
// sees, and finds the values of Content-Length that Fields puts in the
// header.
func FuzzScanAsFields(f *testing.F) {
	for _, seed := range []string{
		"Content-Type: text/plain\r\nContent-Length: 5\r\n",
		"content-length: 3\r\nContent-Length: 4\r\nConnection: close\r\n",
		"X-A:  a \r\nPragma: no-cache\r\nKeep-Alive: 5\r\n",
		"X-A\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block string) {
		h, seen, ok := Fields([]byte(block), nil)
		sseen, cl, lengths, sok := Scan(block)
		if sok != ok {
			t.Fatalf("%q: Scan ok %v, Fields ok %v", block, sok, ok)
		}
		if !ok {
			return
		}
		if sseen != seen {
			t.Errorf("%q: Scan saw %09b, Fields %09b", block, sseen, seen)
		}
		if vv := h["Content-Length"]; lengths != len(vv) || lengths > 0 && cl != vv[0] {
			t.Errorf("%q: Scan found %d lengths, the first %q; Fields %q", block, lengths, cl, vv)
		}
	})
}

func TestValue(t *testing.T) {
	lines := "X-Content-Type: no\r\nContent-Type-X: no\r\nContent-Type: text/plain\r\nContent-Type: second\r\n"
	for _, c := range []struct{ lines, name, want string }{
		{lines, "Content-Type", "text/plain"},
		{lines, "X-Content-Type", "no"},
		{lines, "Date", ""},
		{"", "Date", ""},
		{"Date: d\r\n", "Date", "d"},
		{"Dated: x\r\n", "Date", ""},
	} {
		if got := Value(c.lines, c.name); got != c.want {
			t.Errorf("Value(%q, %q) = %q, want %q", c.lines, c.name, got, c.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	for _, c := range []struct{ lines, want string }{
		{"", ""},
		{"Content-Length: 5\r\n", "Content-Length: 5\r\n"},
		{"Connection: keep-alive\r\nContent-Type: text/plain\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\n", "Content-Type: text/plain\r\nContent-Length: 5\r\n"},
		{"Te: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nX-Te: kept\r\n", "X-Te: kept\r\n"},
	} {
		if got := EndToEnd(c.lines); got != c.want {
			t.Errorf("EndToEnd(%q) = %q, want %q", c.lines, got, c.want)
		}
	}
}
