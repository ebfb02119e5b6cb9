package kafkabus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tuskcompose/composer/internal/events"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it (the CA
// file of the clients) under dir.
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

func TestTLS(t *testing.T) {
	cert, ca := selfSigned(t, t.TempDir())
	c := cluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	tlsCfg, err := TLSFiles{CAFile: ca}.Config()
	if err != nil {
		t.Fatal(err)
	}
	b := New(Config{Brokers: c.ListenAddrs(), Group: "shop", AutoCreate: true, TLS: tlsCfg, Linger: time.Millisecond})
	defer b.Close()
	col := newCollector()
	subscribe(t, b, events.Route{Name: "r", Topic: "user.created", Handler: col.handle})
	if err := b.Publish(context.Background(), event("user.created", "1", 1)); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 1)

	// Without the CA, the broker's certificate is refused.
	system, _ := TLSFiles{}.Config()
	untrusting := New(Config{Brokers: c.ListenAddrs(), Group: "shop", TLS: system})
	defer untrusting.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := untrusting.Check(ctx); err == nil {
		t.Fatal("a self-signed broker certificate was trusted without its CA")
	}
	// Files that are not there are errors that name them.
	if _, err := (TLSFiles{CAFile: "/nonexistent/ca.pem"}).Config(); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
	if _, err := (TLSFiles{CertFile: ca}).Config(); err == nil {
		t.Fatal("a cert_file without a key_file was accepted")
	}
}
