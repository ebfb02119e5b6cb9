package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// CertPair is a certificate file and its key file, and the host names it
// serves by SNI (none: the default certificate).
type CertPair struct {
	Hosts    []string `json:"hosts,omitempty"`
	CertFile string   `json:"cert_file"`
	KeyFile  string   `json:"key_file"`
}

// Certs serves the gateway's certificates for TLS handshakes
// (GetCertificate): by the client's SNI name among the pairs' hosts
// (exact, or a "*.example.com" wildcard of one label), else the default.
// A pair whose files change (a renewal) is read again at the next
// handshake after the change, looked at most once a second per pair, so
// that new connections get the new certificate and open ones go on; a
// renewal that does not load keeps the old certificate, logged once.
// Safe for concurrent use.
type Certs struct {
	def   *certFile
	bySNI []*certFile
	log   *slog.Logger
}

type certFile struct {
	pair    CertPair
	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // the files' size and modification times, when read
	checked time.Time // when the files were last looked at
}

// NewCerts loads every pair; an error names the pair's files.
func NewCerts(def CertPair, sni []CertPair, log *slog.Logger) (*Certs, error) {
	c := &Certs{log: log}
	load := func(p CertPair) (*certFile, error) {
		f := &certFile{pair: p}
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p.CertFile, p.KeyFile, err)
		}
		f.cert, f.stamp, f.checked = &cert, stamp(p), time.Now()
		return f, nil
	}
	var err error
	if def.CertFile != "" {
		if c.def, err = load(def); err != nil {
			return nil, err
		}
	}
	for _, p := range sni {
		f, err := load(p)
		if err != nil {
			return nil, err
		}
		c.bySNI = append(c.bySNI, f)
	}
	if c.def == nil && len(c.bySNI) > 0 {
		c.def = c.bySNI[0] // a client without SNI gets the first
	}
	return c, nil
}

// stamp is what tells that a pair's files changed.
func stamp(p CertPair) string {
	var b strings.Builder
	for _, name := range []string{p.CertFile, p.KeyFile} {
		if fi, err := os.Stat(name); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// GetCertificate is tls.Config.GetCertificate.
func (c *Certs) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	f := c.def
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
	pairs:
		for _, p := range c.bySNI {
			for _, h := range p.pair.Hosts {
				if matchHost(h, name) {
					f = p
					break pairs
				}
			}
		}
	}
	if f == nil {
		return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
	}
	return f.current(c.log), nil
}

// matchHost matches a certificate host name: exact, or "*.example.com"
// for one label more.
func matchHost(pattern, name string) bool {
	pattern = strings.ToLower(pattern)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(name, ".")
		return found && label != "" && parent == rest
	}
	return pattern == name
}

// current is the pair's certificate, read again if its files changed.
func (f *certFile) current(log *slog.Logger) *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < time.Second {
		return f.cert
	}
	f.checked = time.Now()
	s := stamp(f.pair)
	if s == f.stamp {
		return f.cert
	}
	f.stamp = s // a failed load is not tried again until the files change again
	cert, err := tls.LoadX509KeyPair(f.pair.CertFile, f.pair.KeyFile)
	if err != nil {
		if log != nil {
			log.Error("a changed certificate does not load: the old one is served", "cert_file", f.pair.CertFile, "err", err)
		}
		return f.cert
	}
	f.cert = &cert
	if log != nil {
		log.Info("certificate reloaded", "cert_file", f.pair.CertFile)
	}
	return f.cert
}
