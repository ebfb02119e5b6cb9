package h1server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/testcert"
)

// serveTLS starts a Server with TLS for h on loopback, set up by each of
// set, and returns its address and a pool that trusts its certificate.
func serveTLS(t *testing.T, h http.Handler, set ...func(*Server)) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	cert, err := testcert.Write(dir, "server", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	set = append(set, func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	})
	_, addr := serve(t, h, set...)
	return addr, pool
}

// TestTLS: over TLS, HTTP/1.1 is served here and HTTP/2 (chosen by ALPN)
// by net/http, each request with its connection's TLS state; a kept-alive
// connection whose requests run past watchAfter goes on; a client that
// goes away is noticed; plain HTTP is told it came to HTTPS, and a failed
// handshake leaves the server serving; and
// HTTP/2's preface without ALPN is refused as net/http refuses it.
func TestTLS(t *testing.T) {
	addr, pool := serveTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "no TLS state", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(3 * time.Millisecond)
		}
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.URL.Path, r.TLS.NegotiatedProtocol)
	}), func(s *Server) { s.watchAfter = time.Millisecond })
	get := func(c *http.Client, path string) string {
		t.Helper()
		resp, err := c.Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	h1 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}}
	h2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	for i := range 3 {
		if got, want := get(h1, "/slow"), "200 HTTP/1.1 /slow http/1.1"; got != want {
			t.Errorf("HTTP/1.1 request %d: %q, want %q", i, got, want)
		}
	}
	if got, want := get(h2, "/two"), "200 HTTP/2.0 /two h2"; got != want {
		t.Errorf("HTTP/2: %q, want %q", got, want)
	}

	// A handshake that fails: plain HTTP on the TLS port is told so, as
	// net/http tells it.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, _ := io.ReadAll(nc)
	nc.Close()
	if want := "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"; string(answer) != want {
		t.Errorf("plain HTTP on the TLS port: %q, want %q", answer, want)
	}
	if got, want := get(h1, "/after"), "200 HTTP/1.1 /after http/1.1"; got != want {
		t.Errorf("after a failed handshake: %q, want %q", got, want)
	}

	// HTTP/2's preface on a connection that chose http/1.1.
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(tc).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 505 ") {
		t.Errorf("HTTP/2's preface over http/1.1: %q, want a 505", line)
	}
}

// TestTLSClientGone: over TLS too, a client that closes its connection
// while its request runs has the request's context cancelled.
func TestTLSClientGone(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	addr, pool := serveTLS(t, untilCancelled(cancelled), func(s *Server) { s.watchAfter = time.Millisecond })
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	hangUp(t, tc, 20*time.Millisecond, cancelled)
}

// TestTLSShutdownDuringHandshake: a connection still in its handshake is
// closed by Shutdown, which does not wait for it.
func TestTLSShutdownDuringHandshake(t *testing.T) {
	var srv *Server
	addr, _ := serveTLS(t, http.NotFoundHandler(), func(s *Server) { srv = s })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	time.Sleep(20 * time.Millisecond) // accepted, waiting for the client's hello
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
