package h1server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// handlers are what the differential tests serve, by path: each one uses
// a part of the ResponseWriter contract.
func handlers() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := range 100 {
			fmt.Fprintf(w, "%03d %s\n", i, strings.Repeat("x", 96))
		}
	})
	mux.HandleFunc("/cl", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		_, err := io.WriteString(w, "hello")
		w.Header().Set("X-Never", "sent") // after the head: not sent
		if !errors.Is(err, http.ErrContentLength) {
			panic("want ErrContentLength, got " + fmt.Sprint(err))
		}
	})
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
	})
	mux.HandleFunc("/flush-first", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		io.WriteString(w, "streamed")
		w.(http.Flusher).Flush()
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, X-Unset")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &code)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
		io.WriteString(w, "body?")
	})
	mux.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/ignore", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") })
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Multi"] = []string{"one", "two"}
		h["X-Newline"] = []string{"a\r\nInjected: yes"}
		h["Bad Name"] = []string{"dropped"}
		h["X-Spaces"] = []string{"  trimmed  "}
		h["Date"] = nil // no Date
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/early-hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	})
	mux.HandleFunc("/sniff", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html><body>hi</body></html>") })
	mux.HandleFunc("/encoded", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "<html>not sniffed</html>")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("partial ", 1000))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/request", func(w http.ResponseWriter, r *http.Request) {
		// What the handler is given of the request.
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range r.Header {
				if !yield(k) {
					return
				}
			}
		})
		fmt.Fprintf(w, "%s %s %s host=%q close=%v cl=%d te=%v remote=%v headers=%v\n", r.Method, r.RequestURI, r.Proto,
			r.Host, r.Close, r.ContentLength, r.TransferEncoding, r.RemoteAddr != "", keys)
	})
	mux.HandleFunc("/identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "identity")
		io.WriteString(w, strings.Repeat("i", 3000))
	})
	return mux
}

// pair serves h from net/http's server and from this package's, on
// loopback; each test request goes to both.
type pair struct {
	std, lean string
}

func newPair(t testing.TB, h http.Handler, logs io.Writer) pair {
	t.Helper()
	stdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leanLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	std.ErrorLog = nil
	lean := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(logs, nil))}
	go std.Serve(stdLn)
	go lean.Serve(leanLn)
	t.Cleanup(func() { std.Close(); lean.Close() })
	return pair{std: stdLn.Addr().String(), lean: leanLn.Addr().String()}
}

// exchange is what a client saw of one connection: the answers it read
// (headers without Date) and whether the server closed it after them.
type exchange struct {
	Answers []string
	Closed  bool
}

// talk sends raw on a new connection to addr and reads the answers to
// the requests (methods gives their methods, for HEAD) until the server
// closes the connection or stays silent for quiet.
func talk(t testing.TB, addr, raw string, methods []string) exchange {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	var ex exchange
	for i := 0; i < len(methods)+3; i++ {
		nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := br.Peek(1); err != nil {
			var ne net.Error
			ex.Closed = !(errors.As(err, &ne) && ne.Timeout())
			return ex
		}
		method := "GET"
		if i < len(methods) {
			method = methods[i]
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			ex.Answers = append(ex.Answers, "unreadable: "+err.Error())
			ex.Closed = true
			return ex
		}
		body, err := io.ReadAll(resp.Body)
		cut := ""
		if err != nil {
			cut = " (cut: " + err.Error() + ")"
		}
		resp.Header.Del("Date")
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s close=%v cl=%d te=%v%s\n", resp.Proto, resp.Status, resp.Close, resp.ContentLength, resp.TransferEncoding, cut)
		resp.Header.Write(&b)
		b.WriteString("\n")
		b.Write(body)
		if len(resp.Trailer) > 0 {
			b.WriteString("\ntrailers:\n")
			resp.Trailer.Write(&b)
		}
		ex.Answers = append(ex.Answers, b.String())
		if err != nil {
			ex.Closed = true
			return ex
		}
	}
	return ex
}

// closesUnlikeNetHTTP are the cases whose connection ends otherwise than
// net/http's, on purpose, and why.
var closesUnlikeNetHTTP = map[string]string{
	"expect continue, not read": "net/http waits for the body it told the client not to send, the connection open; h1server closes it",
}

// TestAnswersAsNetHTTP sends the same raw requests to net/http's server
// and to this one, in front of the same handlers, and compares what a
// client reads: every answer's status, headers but Date, body and
// trailers, and whether the connection was closed after them.
func TestAnswersAsNetHTTP(t *testing.T) {
	var logs bytes.Buffer
	p := newPair(t, handlers(), &logs)
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n" }
	big := strings.Repeat("b", 600<<10)
	cases := []struct {
		name    string
		raw     string
		methods []string
	}{
		{"small", get("/small"), nil},
		{"two on one connection", get("/small") + get("/cl"), []string{"GET", "GET"}},
		{"big, chunked", get("/big"), nil},
		{"declared length", get("/cl"), nil},
		{"shorter than declared", get("/short") + get("/small"), []string{"GET", "GET"}},
		{"longer than declared", get("/long") + get("/small"), []string{"GET", "GET"}},
		{"flushed", get("/flush"), nil},
		{"flushed before the first write", get("/flush-first") + get("/small"), []string{"GET", "GET"}},
		{"trailers", get("/trailer"), nil},
		{"204", get("/status/204") + get("/small"), []string{"GET", "GET"}},
		{"304", get("/status/304") + get("/small"), []string{"GET", "GET"}},
		{"404", get("/status/404"), nil},
		{"299", get("/status/299"), nil},
		{"nothing written", get("/nothing"), nil},
		{"not found", get("/missing"), nil},
		{"headers cleaned", get("/headers"), nil},
		{"handler closes", get("/close") + get("/small"), []string{"GET", "GET"}},
		{"early hints", get("/early-hints"), []string{"GET", "GET"}},
		{"sniffed", get("/sniff"), nil},
		{"encoded, not sniffed", get("/encoded"), nil},
		{"aborted", get("/abort") + get("/small"), []string{"GET", "GET"}},
		{"identity", get("/identity"), nil},
		{"what the handler sees", "GET /request?q=1 HTTP/1.1\r\nHost: example.test\r\nX-A: 1\r\nAccept: */*\r\n\r\n", nil},
		{"absolute form", "GET http://other.test/request HTTP/1.1\r\nHost: example.test\r\n\r\n", nil},
		{"HEAD small", "HEAD /small HTTP/1.1\r\nHost: example.test\r\n\r\n" + get("/small"), []string{"HEAD", "GET"}},
		{"HEAD big", "HEAD /big HTTP/1.1\r\nHost: example.test\r\n\r\n" + get("/small"), []string{"HEAD", "GET"}},
		{"HEAD declared", "HEAD /cl HTTP/1.1\r\nHost: example.test\r\n\r\n", []string{"HEAD"}},
		{"client closes", "GET /small HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n" + get("/small"), []string{"GET", "GET"}},
		{"HTTP/1.0", "GET /small HTTP/1.0\r\n\r\n", nil},
		{"HTTP/1.0 kept alive", "GET /small HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/small"), []string{"GET", "GET"}},
		{"HTTP/1.0 kept alive, unknown length", "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/small"), []string{"GET", "GET"}},
		{"HTTP/1.0 request info", "GET /request HTTP/1.0\r\n\r\n", nil},
		{"chunked body", "POST /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + get("/small"), []string{"POST", "GET"}},
		{"POST with a line break too many", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\nhi\r\n" + get("/small"), []string{"POST", "GET"}},
		{"body by length", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello world" + get("/small"), []string{"POST", "GET"}},
		{"body not read", "POST /ignore HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello world" + get("/small"), []string{"POST", "GET"}},
		{"big body not read", "POST /ignore HTTP/1.1\r\nHost: example.test\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big, []string{"POST"}},
		{"request seen with body", "POST /request HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"expect continue", "POST /echo HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + get("/small"), []string{"POST", "POST", "GET"}},
		{"expect continue, not read", "POST /ignore HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", []string{"POST"}},
		{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: example.test\r\nExpect: something\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"}},
		{"no Host", "GET /small HTTP/1.1\r\n\r\n", nil},
		{"two Hosts", "GET /small HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", nil},
		{"bad Host", "GET /small HTTP/1.1\r\nHost: a b\r\n\r\n", nil},
		{"bad header line", "GET /small HTTP/1.1\r\nHost: a.test\r\nno colon here\r\n\r\n", nil},
		{"bad header name", "GET /small HTTP/1.1\r\nHost: a.test\r\nBad(Name): x\r\n\r\n", nil},
		{"bad request line", "GET\r\n\r\n", nil},
		{"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: a.test\r\n\r\n", nil},
		{"HTTP/1.2", "GET /request HTTP/1.2\r\nHost: a.test\r\n\r\n", nil},
		{"unsupported transfer encoding", "POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n", nil},
		{"length and chunked", "POST /echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"two lengths", "POST /echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", []string{"POST"}},
		{"bad chunk", "POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"head too large", "GET /small HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("x", 1<<20+8192) + "\r\n\r\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			methods := c.methods
			if methods == nil {
				methods = []string{"GET"}
			}
			want := talk(t, p.std, c.raw, methods)
			got := talk(t, p.lean, c.raw, methods)
			if len(want.Answers) == 0 {
				t.Fatalf("net/http gave no answer: the case tests nothing")
			}
			if _, ok := closesUnlikeNetHTTP[c.name]; ok {
				want.Closed = !want.Closed
			}
			if !slices.Equal(got.Answers, want.Answers) || got.Closed != want.Closed {
				t.Errorf("h1server:\n%s\nclosed=%v\n\nnet/http:\n%s\nclosed=%v", strings.Join(got.Answers, "\n---\n"), got.Closed,
					strings.Join(want.Answers, "\n---\n"), want.Closed)
			}
		})
	}
}

// serve starts a Server for h on loopback, set up by each of set, and
// returns it and its address.
func serve(t testing.TB, h http.Handler, set ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	for _, f := range set {
		f(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, ln.Addr().String()
}

// untilCancelled is a handler that waits for its request's context to
// end, and sends how long that took, or -1 after 10 s.
func untilCancelled(cancelled chan<- time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			cancelled <- time.Since(start)
		case <-time.After(10 * time.Second):
			cancelled <- -1
		}
	}
}

// TestClientGoneCancelsTheRequest: a client that closes its connection
// while a request without a body runs has the request's context
// cancelled (once the request has run for watchAfter).
func TestClientGoneCancelsTheRequest(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	_, addr := serve(t, untilCancelled(cancelled))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hangUp(t, nc, 10*time.Millisecond, cancelled)
}

// hangUp sends a request on c to a handler of untilCancelled(cancelled),
// closes c after wait and fails unless the request's context was
// cancelled.
func hangUp(t *testing.T, c io.WriteCloser, wait time.Duration, cancelled <-chan time.Duration) {
	t.Helper()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(wait)
	c.Close()
	if d := <-cancelled; d < 0 {
		t.Fatal("the request's context was not cancelled when its client went away")
	}
}

// TestWatchAfterManyRequests: on a connection that carried requests for
// longer than watchAfter (the watcher's timer set by one of them), a
// request whose client goes away is cancelled, and not before it has run
// for watchAfter itself.
func TestWatchAfterManyRequests(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			io.WriteString(w, "ok")
			return
		}
		untilCancelled(cancelled)(w, r)
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	for start := time.Now(); time.Since(start) < 3*watchAfter/2; {
		io.WriteString(nc, "GET /fast HTTP/1.1\r\nHost: a.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		time.Sleep(time.Millisecond)
	}
	io.WriteString(nc, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(watchAfter / 5)
	nc.Close()
	d := <-cancelled
	if d < 0 {
		t.Fatal("the request's context was not cancelled when its client went away")
	}
	if d < watchAfter*9/10 {
		t.Errorf("cancelled after %v, before the request had run for %v", d, watchAfter)
	}
}

// TestPipelinedDuringAWatch: a request that comes while the one before it
// runs long (its connection watched) is read whole and answered after it.
func TestPipelinedDuringAWatch(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(3 * watchAfter)
		}
		io.WriteString(w, r.URL.Path)
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(2 * watchAfter) // the watcher is reading now
	io.WriteString(nc, "GET /second HTTP/1.1\r\nHost: a.test\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	for _, want := range []string{"/slow", "/second"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("answer %q, want %q", body, want)
		}
	}
}

// TestShutdownWaitsForRequests: Shutdown closes idle connections at once,
// lets a running request answer, then returns; Serve returns
// ErrServerClosed.
func TestShutdownWaitsForRequests(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: a.test\r\n\r\n")
	idleR := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleR, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}

	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Errorf("the idle connection: %v, want it closed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the running request: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "done" || !resp.Close {
		t.Errorf("the running request got %q (close %v)", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the listener still accepts")
	}
}

// TestShutdownLeavesHijackedConnections: a connection its handler has
// taken over (an upgrade) is not waited for by Shutdown.
func TestShutdownLeavesHijackedConnections(t *testing.T) {
	hijacked := make(chan struct{})
	release := make(chan struct{})
	s, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		close(hijacked)
		<-release
	}))
	defer close(release)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	<-hijacked
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown waited %v for a hijacked connection", d)
	}
}

// TestHijack: a handler that hijacks the connection speaks on it alone,
// with what was read ahead of it.
func TestHijack(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nping\n")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v %v", resp, err)
	}
	if line, _ := br.ReadString('\n'); line != "echo: ping\n" {
		t.Errorf("after the upgrade: %q", line)
	}
}

// TestH2CIsHandedToNetHTTP: a client speaking HTTP/2 with prior knowledge
// is answered by the same handler, over HTTP/2.
func TestH2CIsHandedToNetHTTP(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.URL.Path)
	}))
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 5 * time.Second}
	for _, path := range []string{"/one", "/two"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "HTTP/2.0 " + path; string(body) != want {
			t.Errorf("got %q, want %q", body, want)
		}
	}
	resp, err := http.Get("http://" + addr + "/h1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/1.1 /h1" {
		t.Errorf("HTTP/1.1 beside it: %q", body)
	}
}

// TestSlowHeadIsCutOff: a client that sends part of a request's head and
// stops is disconnected once ReadHeaderTimeout has passed.
func TestSlowHeadIsCutOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 100 * time.Millisecond}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	// A head stopped half-way; blank lines and no request after them (a
	// buffer that ends as a whole head does), at the start and after a
	// POST (whose extra line breaks are dropped); the start of HTTP/2's
	// preface up to its blank line.
	for _, sent := range []string{"GET / HTTP/1.1\r\nHost: a.test\r\nX-Slow: ", "\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\nx\r\n\r\n", "PRI * HTTP/2.0\r\n\r\n"} {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, sent)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		b, err := io.ReadAll(nc)
		nc.Close()
		if err != nil {
			t.Fatalf("%q: the connection was not closed: %v", sent, err)
		}
		if len(b) != 0 && !strings.HasPrefix(string(b), "HTTP/1.1 4") && !strings.HasPrefix(string(b), "HTTP/1.1 5") { // (an error answer is a cut-off too)
			t.Errorf("%q: a cut-off head got an answer: %q", sent, b)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%q: closed after %v", sent, d)
		}
	}
}

// TestWritesAfterReturnFail: a handler's writer used after the handler
// returned (by a goroutine it left) fails, and the next answer on the
// connection is whole.
func TestWritesAfterReturnFail(t *testing.T) {
	leaked := make(chan http.ResponseWriter, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/leak" {
			leaked <- w
		}
		io.WriteString(w, r.URL.Path)
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	io.WriteString(nc, "GET /leak HTTP/1.1\r\nHost: a.test\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	w := <-leaked
	if _, err := w.Write([]byte("late")); err == nil {
		t.Error("a write after the handler returned succeeded")
	}
	if err := http.NewResponseController(w).Flush(); err == nil {
		t.Error("a flush after the handler returned succeeded")
	}
	w.Header().Set("X-Late", "1") // (the map is the connection's next answer's)
	io.WriteString(nc, "GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Header.Get("X-Late"); v != "" {
		t.Errorf("the next answer has the left goroutine's field: X-Late: %s", v)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "/next" {
		t.Errorf("the next answer: %q", body)
	}
}

// TestAnswerHeaderReused: the answers on one connection share one header
// map, cleared between them; a map grown past maxKeptFields is let go.
func TestAnswerHeaderReused(t *testing.T) {
	maps := make(chan string, 4)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		maps <- fmt.Sprintf("%p %d", h, len(h))
		n, _ := strconv.Atoi(r.URL.Query().Get("fields"))
		for i := range n {
			h.Set(fmt.Sprintf("X-Field-%d", i), r.URL.Path)
		}
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	get := func(target string) *http.Response {
		t.Helper()
		io.WriteString(nc, "GET "+target+" HTTP/1.1\r\nHost: a.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		return resp
	}
	get("/a?fields=2")
	first := <-maps
	resp := get("/b")
	second := <-maps
	if resp.Header.Get("X-Field-0") != "" {
		t.Errorf("the second answer has the first's field X-Field-0: %q", resp.Header.Get("X-Field-0"))
	}
	ptr := strings.Fields(first)[0]
	if second != ptr+" 0" {
		t.Errorf("second answer's header map %q, want the first's (%s) emptied", second, ptr)
	}
	get(fmt.Sprintf("/c?fields=%d", maxKeptFields+1))
	<-maps
	get("/d")
	if fourth := <-maps; strings.HasPrefix(fourth, ptr) || !strings.HasSuffix(fourth, " 0") {
		t.Errorf("after an answer of %d fields, the next header map: %q (the grown %s kept, or not empty)", maxKeptFields+1, fourth, ptr)
	}
}

// TestWatchEndingWithTheHandler: requests that end about when their watch
// begins, on kept-alive and pipelined connections, each reach the
// handler as they were sent (no byte of the next request read by a
// watch that began as its handler returned).
func TestWatchEndingWithTheHandler(t *testing.T) {
	const period = 2 * time.Millisecond
	bad := make(chan string, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/r") {
			select {
			case bad <- fmt.Sprintf("%q %q", r.Method, r.URL.Path):
			default:
			}
		}
		// About the watch's period: some end before it begins, some as
		// it begins, some after.
		var n int
		fmt.Sscanf(r.URL.Path, "/r%d", &n)
		time.Sleep(period - 300*time.Microsecond + time.Duration(n%7)*100*time.Microsecond)
		io.WriteString(w, r.URL.Path)
	}), func(s *Server) { s.watchAfter = period })
	const conns, requests, depth = 8, 150, 2
	errs := make(chan error, conns)
	for range conns {
		go func() { errs <- pipeline(addr, requests, depth) }()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	select {
	case got := <-bad:
		t.Errorf("the handler got the request %s", got)
	default:
	}
}

// pipeline sends n requests on one connection, depth of them ahead of
// the answers, and checks each answer.
func pipeline(addr string, n, depth int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	send := func(i int) error {
		_, err := fmt.Fprintf(nc, "GET /r%d HTTP/1.1\r\nHost: a.test\r\n\r\n", i)
		return err
	}
	for i := range min(depth, n) {
		if err := send(i); err != nil {
			return err
		}
	}
	br := bufio.NewReader(nc)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("answer %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("/r%d", i); resp.StatusCode != http.StatusOK || string(body) != want {
			return fmt.Errorf("answer %d: %s %q, want 200 %q", i, resp.Status, body, want)
		}
		if i+depth < n {
			if err := send(i + depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestSortFields: the answer's fields are sorted by name, few or many.
func TestSortFields(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 12, 13, 40} {
		var fields []field
		for i := range n {
			fields = append(fields, field{name: fmt.Sprintf("X-%02d", (i*7)%n)})
		}
		sortFields(fields)
		if !slices.IsSortedFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) }) {
			t.Errorf("%d fields: not sorted: %v", n, fields)
		}
	}
}

// TestWholeAnswerGoesAtOnce: an answer of declared length is sent at the
// write that completes it, while its handler still runs (a proxy's
// counting after the copy is no part of the client's wait); one of
// unknown length waits for the handler's end, to get its length.
func TestWholeAnswerGoesAtOnce(t *testing.T) {
	release := make(chan struct{})
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "5")
		}
		io.WriteString(w, "hel")
		io.WriteString(w, "lo")
		<-release
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)

	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, "GET /declared HTTP/1.1\r\nHost: a.test\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the answer of declared length, its handler running: %v", err)
	}
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "hello" {
		t.Fatalf("its body: %q, %v", body, err)
	}
	release <- struct{}{}

	io.WriteString(nc, "GET /unknown HTTP/1.1\r\nHost: a.test\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("an answer of unknown length went before its handler returned")
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	release <- struct{}{}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "hello" || resp.ContentLength != 5 {
		t.Errorf("the answer of unknown length: %q, length %d", body, resp.ContentLength)
	}
}
