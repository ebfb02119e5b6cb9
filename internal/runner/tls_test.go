package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tuskcompose/composer/internal/testcert"
)

// writeCert is testcert.Write, failing the test on an error.
func writeCert(t *testing.T, dir, name string, hosts ...string) *x509.Certificate {
	t.Helper()
	cert, err := testcert.Write(dir, name, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestHTTPS: the gateway over TLS with HTTP/2 (ALPN) and HTTP/1.1 (an
// http service sent X-Forwarded-Proto https), a certificate by SNI, a
// renewed certificate served to the next connection while the open one
// goes on, redirect_http, and gRPC over TLS.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, "gateway", "127.0.0.1", "localhost")
	api := writeCert(t, dir, "api", "api.shop.test")
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Header.Get("X-Forwarded-Proto"), r.URL.Path)
	}))
	t.Cleanup(inst.Close)
	p := startPlatformWith(t, fmt.Sprintf(`tls {
  cert_file: %q, key_file: %q
  certificates: [{ hosts: ["api.shop.test", "*.api.shop.test"], cert_file: %q, key_file: %q }]
  redirect_http: "127.0.0.1:0"
}`, filepath.Join(dir, "gateway.pem"), filepath.Join(dir, "gateway-key.pem"), filepath.Join(dir, "api.pem"), filepath.Join(dir, "api-key.pem")), fmt.Sprintf(`
[services]
echo { kind: "http", instances: [%q], routes: ["/echo/*path"] }
`, inst.URL))
	pool := x509.NewCertPool()
	pool.AddCert(first)
	pool.AddCert(api)
	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	gw := "https://" + p.r.GatewayAddr()
	old := client(pool)
	resp, err := old.Get(gw + "/users/1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 404 || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("HTTPS: %s %d, serial %v", resp.Proto, resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber)
	}
	// HTTP/1.1 over TLS, kept alive, to an http service.
	h1 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}}
	for i := range 2 {
		resp, err := h1.Get(gw + "/echo/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 1 || resp.StatusCode != 200 || string(body) != "https /echo/x" {
			t.Errorf("HTTP/1.1 over TLS, request %d: %s %d %q, want 200 %q", i, resp.Proto, resp.StatusCode, body, "https /echo/x")
		}
	}
	// SNI picks the api certificate, for its name and its wildcard.
	for _, name := range []string{"api.shop.test", "v2.api.shop.test"} {
		conn, err := tls.Dial("tcp", p.r.GatewayAddr(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(api.SerialNumber) != 0 {
			t.Errorf("SNI %s: serial %v, want the api certificate's", name, got)
		}
		conn.Close()
	}
	// TLS 1.1 is refused.
	if conn, err := tls.Dial("tcp", p.r.GatewayAddr(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}

	// A renewal: the next connection gets the new certificate, the open
	// one goes on.
	time.Sleep(1100 * time.Millisecond) // the files are looked at once a second
	renewed := writeCert(t, dir, "gateway", "127.0.0.1", "localhost")
	newPool := x509.NewCertPool()
	newPool.AddCert(renewed)
	eventually(t, "the renewed certificate served", func() bool {
		resp, err := client(newPool).Get(gw + "/users/1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Cmp(renewed.SerialNumber) == 0
	})
	if resp, err := old.Get(gw + "/users/1"); err != nil || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("the connection opened before the renewal: %v", err)
	} else {
		resp.Body.Close()
	}

	// redirect_http.
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + p.r.RedirectAddr() + "/users/1?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := gw + "/users/1?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect_http: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	// gRPC over TLS: the composer's own health service.
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: newPool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "users"}); err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC over TLS: %v %v", h, err)
	}
}
