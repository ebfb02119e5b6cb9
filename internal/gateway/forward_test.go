package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/balancer"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/h1server"
)

// seen is what an instance was sent: its headers, one per line, sorted.
func seen(r *http.Request) string {
	var lines []string
	for k, vv := range r.Header {
		lines = append(lines, k+": "+strings.Join(vv, " | "))
	}
	sort.Strings(lines)
	return r.Method + " " + r.URL.RequestURI() + "\n" + strings.Join(lines, "\n")
}

// TestLeanPathAsReverseProxy: the lean path (forward) sends an instance
// what httputil.ReverseProxy with the gateway's Rewrite sends it, and
// gives the client what ReverseProxy gives it, request by request: hop-by-
// hop headers both ways, the client's forwarding headers replaced, no
// default User-Agent, TE: trailers kept, path rewriting, header rules,
// trailers, a streamed answer, an empty body; served by net/http's
// server and by h1server (the gateway's), behind a field set before it.
func TestLeanPathAsReverseProxy(t *testing.T) {
	got := make(chan string, 1)
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen(r) + "\nbody: " + string(body)
		h := w.Header()
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "hop")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("X-Kept", "kept")
		switch r.URL.Path {
		case "/trailers":
			h.Set("Trailer", "X-Sum")
			io.WriteString(w, "with trailers")
			h.Set("X-Sum", "42")
		case "/stream":
			h.Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "hello")
		}
	}))
	defer inst.Close()
	target, _ := url.Parse(inst.URL)
	// Each way in front of the instance sets a field first (as the request
	// id does) and is then the lean path or ReverseProxy.
	serve := func(lean bool, server func(http.Handler) string, wrap func(http.ResponseWriter) http.ResponseWriter) string {
		in := balancer.NewInstance(inst.URL)
		in.SetHealth(balancer.Healthy)
		bal, _ := balancer.New(balancer.RoundRobin, []*balancer.Instance{in})
		u := &Upstream{Name: "svc", Balancer: bal, Breaker: breaker.New(breaker.Settings{FailureThreshold: 100}, nil, nil),
			StripPrefix: "/api", AddPrefix: "/v2", RequestHeaders: &HeaderRules{Set: map[string]string{"X-Set": "yes"}, Remove: []string{"X-Drop"}},
			ResponseHeaders: &HeaderRules{Remove: []string{"X-Kept-Not"}}}
		rt := &tries{u: u, base: NewTransport(5 * time.Second)}
		_ = target
		var h http.Handler
		if lean {
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u.forward(w, r, rt) })
		} else {
			h = &httputil.ReverseProxy{Transport: rt, ErrorHandler: u.writeError, BufferPool: &buffers,
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetXForwarded()
					p := "/v2" + strings.TrimPrefix(pr.In.URL.EscapedPath(), "/api")
					pr.Out.URL.RawPath = p
					pr.Out.URL.Path, _ = url.PathUnescape(p)
					u.RequestHeaders.apply(pr.Out.Header)
				},
				ModifyResponse: func(resp *http.Response) error { u.ResponseHeaders.apply(resp.Header); return nil }}
		}
		return server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Kept"] = []string{"first"} // the instance's value goes after it
			h.ServeHTTP(wrap(w), r)
		}))
	}
	netHTTP := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	h1 := func(h http.Handler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &h1server.Server{Handler: h}
		go s.Serve(ln)
		t.Cleanup(func() { s.Close() })
		return ln.Addr().String()
	}
	same := func(w http.ResponseWriter) http.ResponseWriter { return w }
	proxy := serve(false, netHTTP, same)
	ways := []struct{ name, addr string }{
		{"lean path", serve(true, netHTTP, same)},
		// The gateway's own server, behind a writer that passes everything
		// on (as gin's does).
		{"lean path on h1server", serve(true, h1, func(w http.ResponseWriter) http.ResponseWriter { return passOn{w} })},
	}
	// raw sends a request as a client writes it and reads the whole answer.
	raw := func(addr, req string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		var lines []string
		for k, vv := range resp.Header {
			lines = append(lines, k+": "+strings.Join(vv, " | "))
		}
		for k, vv := range resp.Trailer {
			lines = append(lines, "trailer "+k+": "+strings.Join(vv, " | "))
		}
		sort.Strings(lines)
		return fmt.Sprintf("%d chunked=%v\n%s\nbody: %s", resp.StatusCode, len(resp.TransferEncoding) > 0, strings.Join(lines, "\n"), body)
	}
	for _, req := range []string{
		"GET /api/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Custom\r\nX-Custom: hop\r\nKeep-Alive: 5\r\nProxy-Authorization: x\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Drop: 1\r\nTE: trailers\r\nConnection: close\r\n\r\n",
		"POST /api/trailers HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nUser-Agent: client/1\r\nConnection: close\r\n\r\nhello",
		"GET /api/stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"DELETE /api/empty HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET /api/x HTTP/1.1\r\nHost: h\r\nTE: deflate, trailers;q=1, gzip\r\nConnection: close\r\n\r\n",
		"GET /api/x HTTP/1.1\r\nHost: h\r\nTE: deflate\r\nConnection: close\r\n\r\n",
		"GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: TE, User-Agent, X-Forwarded-For\r\nTE: trailers\r\nUser-Agent: ua\r\nX-Forwarded-Proto: evil\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real: r\r\nConnection: close\r\n\r\n",
	} {
		b := raw(proxy, req)
		sawProxy := <-got
		for _, way := range ways {
			a := raw(way.addr, req)
			sawLean := <-got
			if sawLean != sawProxy {
				t.Errorf("%q: the instance saw\n%s\nthrough the %s, and through ReverseProxy\n%s", strings.SplitN(req, "\r\n", 2)[0], sawLean, way.name, sawProxy)
			}
			if a != b {
				t.Errorf("%q: the client got\n%s\nthrough the %s, and through ReverseProxy\n%s", strings.SplitN(req, "\r\n", 2)[0], a, way.name, b)
			}
		}
	}
}

// passOn is a ResponseWriter around another that passes everything on.
type passOn struct{ http.ResponseWriter }

func (p passOn) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// TestLeanPathKeepsHTTP10Alive: an HTTP/1.0 client that asks to keep its
// connection keeps it through the lean path on h1server, as through
// ReverseProxy on net/http's server (forward takes the hop-by-hop fields
// out of the client's header; the server decides on what the client
// sent), and one that does not ask has it closed.
func TestLeanPathKeepsHTTP10Alive(t *testing.T) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer inst.Close()
	in := balancer.NewInstance(inst.URL)
	in.SetHealth(balancer.Healthy)
	bal, _ := balancer.New(balancer.RoundRobin, []*balancer.Instance{in})
	u := &Upstream{Name: "svc", Balancer: bal, Breaker: breaker.New(breaker.Settings{FailureThreshold: 100}, nil, nil)}
	rt := &tries{u: u, base: NewTransport(5 * time.Second)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u.forward(w, r, rt) })}
	go s.Serve(ln)
	defer s.Close()
	for _, c := range []struct {
		req  string
		keep bool
	}{
		{"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"GET /a HTTP/1.0\r\n\r\n", false},
		{"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
		{"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", true},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, c.req+c.req)
		br := bufio.NewReader(conn)
		answers := 0
		for range 2 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.ReadAll(resp.Body)
			answers++
		}
		conn.Close()
		if want := map[bool]int{true: 2, false: 1}[c.keep]; answers != want {
			t.Errorf("%q: %d answers on one connection, want %d", strings.SplitN(c.req, "\r\n", 2)[0]+" "+strings.SplitN(c.req, "\r\n", 3)[1], answers, want)
		}
	}
}

// TestLeanPathSendsLinesOn: an answer whose header lines are tidy (its
// Connection naming none of its other fields, no response rules) reaches
// the client with its lines as the instance sent them, in its order,
// less its connection's own, after the writer's own fields; any other is
// written out from the header map, sorted. Either way the client gets
// the fields and body that ReverseProxy on net/http's server gives it.
func TestLeanPathSendsLinesOn(t *testing.T) {
	// The instance answers each request with the next head of answers,
	// written as it is (net/http would write its fields sorted).
	answers := make(chan string, 1)
	iln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer iln.Close()
	go func() {
		for {
			c, err := iln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					io.WriteString(c, <-answers)
				}
			}()
		}
	}()
	in := balancer.NewInstance("http://" + iln.Addr().String())
	in.SetHealth(balancer.Healthy)
	bal, _ := balancer.New(balancer.RoundRobin, []*balancer.Instance{in})
	u := &Upstream{Name: "svc", Balancer: bal, Breaker: breaker.New(breaker.Settings{FailureThreshold: 100}, nil, nil)}
	rt := &tries{u: u, base: NewTransport(5 * time.Second)}
	withID := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Request-Id"] = []string{"id-1"} // the writer's own field, as the request id's
			h.ServeHTTP(passOn{w}, r)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h1server.Server{Handler: withID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u.forward(w, r, rt) }))}
	go s.Serve(ln)
	defer s.Close()
	proxy := httptest.NewServer(withID(&httputil.ReverseProxy{Transport: rt, Rewrite: func(pr *httputil.ProxyRequest) { pr.SetXForwarded() }}))
	defer proxy.Close()

	// get sends one request and returns the answer's head as sent and as
	// read (its fields sorted, but Date, which the server may add).
	get := func(addr, answer string) (head, fields string) {
		answers <- answer
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		raw, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		var lines []string
		for k, vv := range resp.Header {
			lines = append(lines, k+": "+strings.Join(vv, " | "))
		}
		sort.Strings(lines)
		head, _, _ = strings.Cut(string(raw), "\r\n\r\n")
		return head, fmt.Sprintf("%d\n%s\nbody: %s", resp.StatusCode, strings.Join(lines, "\n"), body)
	}
	for _, c := range []struct {
		name, answer string
		sentOn       bool // the instance's lines reach the client as they are
	}{
		{"tidy", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nContent-Type: text/plain\r\nA-First: a\r\nDate: Fri, 04 Dec 2026 01:49:09 GMT\r\nContent-Length: 5\r\n\r\nhello", true},
		{"no type, no date", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"not found", "HTTP/1.1 404 Not Found\r\nZ-Last: z\r\nA-First: a\r\nContent-Length: 4\r\n\r\nnone", true},
		{"the writer's field again", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nX-Request-Id: id-2\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"a name twice, apart", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nZ-Last: z\r\nSet-Cookie: b=2\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"encoded", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nContent-Encoding: gzip\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"a name not canonical", "HTTP/1.1 200 OK\r\nz-last: z\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", false},
		{"spaces around a value", "HTTP/1.1 200 OK\r\nZ-Last:  z \r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", false},
		{"fields of the connection", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nZ-Last: z\r\nKeep-Alive: timeout=5\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"close", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nConnection: close\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"HTTP/1.0, kept alive", "HTTP/1.0 200 OK\r\nZ-Last: z\r\nConnection: keep-alive\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", true},
		{"a field Connection names", "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: h\r\nZ-Last: z\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", false},
		{"pragma", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nPragma: no-cache\r\nA-First: a\r\nContent-Length: 5\r\n\r\nhello", false},
		// (A stream's head goes before its body on the lean path, so that
		// one without a type gets none sniffed, unlike ReverseProxy's.)
		{"chunked", "HTTP/1.1 200 OK\r\nZ-Last: z\r\nContent-Type: text/plain\r\nA-First: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
	} {
		_, want := get(proxy.Listener.Addr().String(), c.answer)
		head, got := get(ln.Addr().String(), c.answer)
		if got != want {
			t.Errorf("%s: the client got\n%s\nthrough the lean path, and through ReverseProxy\n%s", c.name, got, want)
		}
		inOrder := strings.Contains(head, "Z-Last: z") && strings.Index(head, "Z-Last: z") < strings.Index(head, "A-First: a")
		if inOrder != c.sentOn {
			t.Errorf("%s: the instance's lines sent on as they are: %v, want %v; the head:\n%s", c.name, inOrder, c.sentOn, head)
		}
		if c.sentOn && !strings.HasPrefix(head, "HTTP/1.1"+strings.SplitN(c.answer, "\r\n", 2)[0][8:]+"\r\nX-Request-Id: id-1\r\n") {
			t.Errorf("%s: the head does not begin with the status and the writer's field:\n%s", c.name, head)
		}
	}
}
