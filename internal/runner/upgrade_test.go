package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoServer is a WebSocket echo upstream with a health endpoint.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func echo(t *testing.T, c *websocket.Conn, msg string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return err
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echoed %q, want %q", got, msg)
	}
	return nil
}

// TestWebSocketAcrossAReload: a WebSocket through the gateway echoes,
// keeps its generation across a reload, counts as in flight on its
// instance, and is closed drain_timeout after the reload retired its
// generation.
func TestWebSocketAcrossAReload(t *testing.T) {
	up := echoServer(t)
	svc := fmt.Sprintf("[services]\nchat { kind: \"http\", instances: [%q], routes: [\"/ws\"] }\n", up.URL)
	p := startPlatform(t, svc)
	gw := strings.Replace("http://"+p.r.GatewayAddr(), "http", "ws", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, gw+"/ws", nil)
	if err != nil {
		t.Fatalf("dial through the gateway: %v (%v)", err, resp)
	}
	defer c.CloseNow()
	if err := echo(t, c, "before"); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.r.Services() {
		if s.Name == "chat" && (len(s.Instances) != 1 || s.Instances[0].InFlight != 1) {
			t.Errorf("the open connection is not in flight on its instance: %+v", s)
		}
	}
	// A reload with drain_timeout short: the connection lives on its
	// generation until then.
	p.rewrite(t, svc+"notifications { routes: [] }\n")
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	time.Sleep(300 * time.Millisecond)
	if err := echo(t, c, "after the reload"); err != nil {
		t.Fatalf("the connection did not survive the reload: %v", err)
	}
}

// TestWebSocketClosedAfterDrainTimeout: a connection still open on a
// retired generation is closed drain_timeout after the reload.
func TestWebSocketClosedAfterDrainTimeout(t *testing.T) {
	up := echoServer(t)
	svc := fmt.Sprintf("[services]\nchat { kind: \"http\", instances: [%q], routes: [\"/ws\"] }\n", up.URL)
	p := startPlatformWith(t, "drain_timeout: \"200ms\"\n", svc)
	gw := strings.Replace("http://"+p.r.GatewayAddr(), "http", "ws", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, gw+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := echo(t, c, "hello"); err != nil {
		t.Fatal(err)
	}
	p.rewriteWith(t, "drain_timeout: \"200ms\"\n", svc+"notifications { routes: [] }\n")
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	start := time.Now()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); err == nil {
		t.Fatal("read a message nobody sent")
	} else if rctx.Err() != nil {
		t.Fatal("the connection was not closed after drain_timeout")
	}
	t.Logf("closed %s after the reload", time.Since(start).Round(time.Millisecond))
}

// TestServerSentEventsStream: an answer written in parts reaches the
// client part by part through the gateway, not buffered whole.
func TestServerSentEventsStream(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	p := startPlatform(t, fmt.Sprintf("[services]\nfeed { kind: \"http\", instances: [%q], routes: [\"/feed\"] }\n", up.URL))
	resp, err := http.Get("http://" + p.r.GatewayAddr() + "/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	done := make(chan string, 1)
	go func() {
		n, _ := resp.Body.Read(buf)
		done <- string(buf[:n])
	}()
	select {
	case got := <-done:
		if got != "data: one\n\n" {
			t.Errorf("first part %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive before the second was written: the answer is buffered")
	}
	close(next)
}

// TestStreamIdleTimeout: a stream whose instance stops writing is closed
// after the service's stream_idle_timeout.
func TestStreamIdleTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // and then nothing
	}))
	t.Cleanup(up.Close)
	p := startPlatform(t, fmt.Sprintf("[services]\nfeed { kind: \"http\", instances: [%q], routes: [\"/feed\"], stream_idle_timeout: \"200ms\" }\n", up.URL))
	resp, err := http.Get("http://" + p.r.GatewayAddr() + "/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	select {
	case <-done:
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the silent stream was not closed")
	}
}
