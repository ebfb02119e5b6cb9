package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/h1head"
)

// countingServer is a loopback server that counts the connections it
// accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func do(t *testing.T, tr http.RoundTripper, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestAnswersAndKeepAlive(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.Host, b)
		case "/chunked":
			w.Write([]byte("one "))
			w.(http.Flusher).Flush()
			w.Write([]byte("two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("body"))
			w.Header().Set("X-Sum", "42")
		}
	})
	tr := &Transport{}
	host := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/echo", "", 200, "GET " + host + " "},
		{"POST", "/echo", "payload", 200, "POST " + host + " payload"},
		{"GET", "/chunked", "", 200, "one two"},
		{"GET", "/empty", "", 204, ""},
		{"HEAD", "/echo", "", 200, ""},
		{"GET", "/trailer", "", 200, "body"},
	}
	for i := 0; i < 3; i++ {
		for _, c := range cases {
			resp, got := do(t, tr, c.method, srv.URL+c.path, c.body)
			if resp.StatusCode != c.status || got != c.want {
				t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, resp.StatusCode, got, c.status, c.want)
			}
			if c.path == "/trailer" && resp.Trailer.Get("X-Sum") != "42" {
				t.Errorf("trailer: %v", resp.Trailer)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for calls one after another, want 1", n)
	}
}

func TestConcurrentCalls(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Query().Get("n")) })
	tr := &Transport{MaxIdleConnsPerHost: 8}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				n := fmt.Sprint(g*1000 + i)
				req, _ := http.NewRequest("GET", srv.URL+"/?n="+n, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != n {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 1600 calls failed or got another call's answer", failed.Load())
	}
	if n := conns.Load(); n > 16 {
		t.Errorf("%d connections for 16 callers", n)
	}
	tr.mu.Lock()
	idle := len(tr.idle[strings.TrimPrefix(srv.URL, "http://")].list)
	tr.mu.Unlock()
	if idle > 8 {
		t.Errorf("%d idle connections kept, limit 8", idle)
	}
}

// oneShotServer answers every request on a connection and then closes the
// connection without saying so (no Connection: close), as a host does
// when its idle timeout passes or it restarts.
func oneShotServer(t *testing.T) (addr string, requests *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	requests = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				requests.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	return ln.Addr().String(), requests
}

func TestClosedIdleConnection(t *testing.T) {
	addr, requests := oneShotServer(t)
	tr := &Transport{}
	for i := 0; i < 5; i++ {
		for _, method := range []string{"GET", "POST"} {
			body := ""
			if method == "POST" {
				body = "not to be sent twice"
			}
			// Give the host time to close the connection the last call
			// left in the pool.
			time.Sleep(10 * time.Millisecond)
			resp, got := do(t, tr, method, "http://"+addr+"/", body)
			if resp.StatusCode != 200 || got != "ok" {
				t.Fatalf("%s: %d %q", method, resp.StatusCode, got)
			}
		}
	}
	if n := requests.Load(); n != 10 {
		t.Errorf("the host saw %d requests for 10 calls", n)
	}
}

func TestNotReplayedWhenNotIdempotent(t *testing.T) {
	// A host that reads the request and closes without answering: a
	// POST is not sent again, a GET is (once, on a new connection, and
	// fails there too).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var requests atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						c.Close()
						return
					}
					io.Copy(io.Discard, req.Body)
					if requests.Add(1) == 1 {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
						continue
					}
					c.Close()
					return
				}
			}()
		}
	}()
	tr := &Transport{}
	url := "http://" + ln.Addr().String() + "/"
	do(t, tr, "GET", url, "") // leaves one connection in the pool
	req, _ := http.NewRequest("POST", url, strings.NewReader("x"))
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("POST to a host that closed without answering succeeded")
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("the host saw %d requests, want 2 (the POST once)", n)
	}
}

// holdingServer is a countingServer that answers "ok", but to requests
// for path only once the test has ended.
func holdingServer(t *testing.T, path string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			<-release
		}
		io.WriteString(w, "ok")
	})
	t.Cleanup(func() { close(release) }) // (before the server's Close, which waits for its handlers)
	return srv, conns
}

func TestResponseHeaderTimeout(t *testing.T) {
	srv, conns := holdingServer(t, "/slow")
	tr := &Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("GET", srv.URL+"/slow", nil)
	start := time.Now()
	_, err := tr.RoundTrip(req)
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout took %v", d)
	}
	// The connection that timed out is not reused; the next call gets a
	// new one and its answer, whatever time it takes after the headers.
	resp, got := do(t, tr, "GET", srv.URL+"/fast", "")
	if resp.StatusCode != 200 || got != "ok" || conns.Load() != 2 {
		t.Fatalf("after a timeout: %d %q, %d connections", resp.StatusCode, got, conns.Load())
	}
}

func TestCallerCancellation(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		if r.URL.Path == "/hang-headers" {
			return
		}
		<-release
	})
	defer close(release)
	tr := &Transport{}

	// Waiting for the body: cancelling ends the read.
	cancelledBodyRead(t, tr, srv.URL+"/hang-body", 20*time.Millisecond)
	tr.mu.Lock()
	idle := len(tr.idle)
	tr.mu.Unlock()
	if idle != 0 {
		t.Fatal("a cancelled call's connection went back to the pool")
	}

	// Already cancelled: the error is the context's.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	req2, _ := http.NewRequestWithContext(ctx2, "GET", srv.URL+"/hang-headers", nil)
	if _, err := tr.RoundTrip(req2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
}

func TestBodyClosedEarly(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			chunk := strings.Repeat("x", 64<<10)
			for i := 0; i < 1024; i++ { // 64 MiB, more than any buffer
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
		io.WriteString(w, "small")
	})
	tr := &Transport{}
	req, _ := http.NewRequest("GET", srv.URL+"/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 10))
	closed := make(chan struct{})
	go func() { resp.Body.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("closing a body early waited for its end")
	}
	if resp, got := do(t, tr, "GET", srv.URL+"/small", ""); got != "small" || resp.StatusCode != 200 {
		t.Fatalf("after an early close: %q", got)
	}
	if conns.Load() != 2 {
		t.Fatalf("%d connections, want 2: one closed early, one new", conns.Load())
	}
}

func TestConnectionCloseAnswer(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	tr := &Transport{}
	for i := 0; i < 3; i++ {
		if _, got := do(t, tr, "GET", srv.URL, ""); got != "bye" {
			t.Fatal(got)
		}
	}
	if conns.Load() != 3 {
		t.Fatalf("%d connections, want 3: none is kept after Connection: close", conns.Load())
	}
}

func TestInformationalAnswersSkipped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		}
	}()
	tr := &Transport{}
	for i := 0; i < 2; i++ {
		resp, got := do(t, tr, "GET", "http://"+ln.Addr().String()+"/", "")
		if resp.StatusCode != 200 || got != "done" {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
	}
}

type recordingTransport struct{ calls atomic.Int64 }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: req}, nil
}

func TestFallback(t *testing.T) {
	fb := &recordingTransport{}
	tr := &Transport{Fallback: fb}
	for _, c := range []struct {
		url    string
		header string
	}{
		{"https://127.0.0.1:1/", ""},
		{"http://127.0.0.1:1/ws", "Upgrade: websocket"},
		{"http://127.0.0.1:1/", "Expect: 100-continue"},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		if c.header != "" {
			k, v, _ := strings.Cut(c.header, ": ")
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 299 {
			t.Errorf("%s %s: not given to the fallback (%v)", c.url, c.header, err)
		}
	}
	if fb.calls.Load() != 3 {
		t.Fatalf("fallback calls = %d", fb.calls.Load())
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := &Transport{IdleConnTimeout: 20 * time.Millisecond}
	do(t, tr, "GET", srv.URL, "")
	time.Sleep(50 * time.Millisecond)
	do(t, tr, "GET", srv.URL, "")
	if conns.Load() != 2 {
		t.Fatalf("%d connections: one idle longer than the timeout was reused", conns.Load())
	}
	tr.CloseIdleConnections()
	do(t, tr, "GET", srv.URL, "")
	if conns.Load() != 3 {
		t.Fatalf("%d connections after CloseIdleConnections, want 3", conns.Load())
	}
}

func TestDialError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	if _, err := (&Transport{}).RoundTrip(req); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
}

// rawServer is a loopback server that answers each request on a
// connection with answer(path, conn), writing as it likes; it counts
// connections.
func rawServer(t *testing.T, answer func(path string, c net.Conn)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					answer(req.URL.Path, c)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// The caller's cancellation is watched only once an answer takes longer
// than watchAfter; before and after, it ends the call, and an answer
// that comes after the window is taken whole, on a connection kept.
func TestLateCancellationAndLateAnswers(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, conns := rawServer(t, func(path string, c net.Conn) {
		switch path {
		case "/late": // the head after the window
			time.Sleep(2 * watchAfter)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
		case "/split": // half a head, then the rest after the window
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-")
			time.Sleep(2 * watchAfter)
			io.WriteString(c, "Length: 5\r\n\r\nsplit")
		case "/part-body": // a body of known length, cut short and held
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
			<-release
		case "/hang":
			<-release
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := &Transport{}
	for _, path := range []string{"/late", "/split", "/late", "/fast"} {
		resp, body := do(t, tr, "GET", url+path, "")
		if resp.StatusCode != 200 || body != strings.TrimPrefix(path, "/") && body != "ok" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	// A call that may not be sent twice takes a pooled connection only
	// once it has checked it open, a check the deadline the call before
	// left (passed now) must not fail.
	time.Sleep(2 * watchAfter)
	post, _ := http.NewRequest("POST", url+"/fast", io.NopCloser(strings.NewReader("x"))) // (no GetBody)
	post.ContentLength = 1
	if replayable(post) {
		t.Fatal("the POST can be sent twice")
	}
	resp, err := tr.RoundTrip(post)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 1 {
		t.Fatalf("late answers and a POST took %d connections, want 1", n)
	}
	// Cancelled before the window ends, after it, by the context's own
	// deadline before it: each call ends with the context's error.
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled in the window", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(watchAfter/5, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"cancelled after the window", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(3*watchAfter, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"a deadline in the window", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), watchAfter/5)
		}, context.DeadlineExceeded},
	} {
		ctx, cancel := c.ctx()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/hang", nil)
		done := make(chan error, 1)
		go func() { _, err := tr.RoundTrip(req); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the call did not end", c.name)
		}
		cancel()
	}
	// A body still to be read is watched: cancelling ends its read.
	cancelledBodyRead(t, tr, url+"/part-body", watchAfter/5)
}

// cancelledBodyRead gets url through tr, cancels the call after the
// answer's head, and fails t unless the read of its body then ends with
// an error.
func cancelledBodyRead(t *testing.T, tr *Transport, url string, after time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.AfterFunc(after, cancel)
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the read of a cancelled call's body ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling did not end the body's read")
	}
}

// deadlineCounter is a connection that counts its read deadlines set.
type deadlineCounter struct {
	*net.TCPConn
	sets *atomic.Int64
}

func (c deadlineCounter) SetReadDeadline(t time.Time) error {
	c.sets.Add(1)
	return c.TCPConn.SetReadDeadline(t)
}

// TestEarlyDeadlineKept: calls close together on one connection share
// the early deadline the first one set, and a call long after sets its
// own; a caller cancelled meanwhile is still noticed.
func TestEarlyDeadlineKept(t *testing.T) {
	srv, conns := holdingServer(t, "/hang")
	var sets atomic.Int64
	tr := &Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return deadlineCounter{nc.(*net.TCPConn), &sets}, nil
	}}
	start := time.Now()
	for range 5 {
		do(t, tr, "GET", srv.URL+"/", "")
	}
	if elapsed := time.Since(start); elapsed < watchAfter/2 && sets.Load() != 1 {
		t.Fatalf("5 calls in %v set %d read deadlines, want 1", elapsed, sets.Load())
	}
	time.Sleep(watchAfter)
	before := sets.Load()
	do(t, tr, "GET", srv.URL+"/", "")
	if sets.Load() == before {
		t.Fatal("a call after watchAfter kept a deadline that had passed")
	}

	// The kept deadline passes: the call arms its watch, and the caller's
	// cancellation ends it.
	do(t, tr, "GET", srv.URL+"/", "")
	ctx, cancel := context.WithTimeout(context.Background(), watchAfter+30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/hang", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled call: %v, want context.DeadlineExceeded", err)
	}
	if conns.Load() != 1 {
		t.Fatalf("%d connections, want 1", conns.Load())
	}
}

// TestAnswerHead: a plain answer's body tells its header lines as the
// instance sent them and what h1head saw of them, after the body is
// read; an answer read by net/http (chunked) tells none.
func TestAnswerHead(t *testing.T) {
	url, _ := rawServer(t, func(path string, c net.Conn) {
		switch path {
		case "/plain":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nZ: z\r\ncontent-type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nZ: z\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		}
	})
	tr := &Transport{}
	for _, c := range []struct {
		path, lines string
		has         h1head.Has
	}{
		{"/plain", "Z: z\r\ncontent-type: text/plain\r\nContent-Length: 5\r\n", h1head.HasContentType | h1head.HasContentLength | h1head.Untidy},
		{"/chunked", "", 0},
	} {
		req, _ := http.NewRequest("GET", url+c.path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		hb, ok := resp.Body.(interface{ Head() (string, h1head.Has) })
		if !ok {
			t.Fatalf("%s: the body %T has no Head", c.path, resp.Body)
		}
		if lines, has := hb.Head(); lines != c.lines || has != c.has {
			t.Errorf("%s: Head() = %q, %09b; want %q, %09b", c.path, lines, has, c.lines, c.has)
		}
		resp.Body.Close()
	}
}
