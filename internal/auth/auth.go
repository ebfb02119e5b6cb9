// Package auth checks who calls a gateway route: the [auth] section's
// named policies. A JWT policy verifies a bearer token (golang-jwt/jwt
// v5; keys from a secret or a JWKS file, parsed with lestrrat-go/jwx)
// and forwards chosen claims as headers; an API key policy compares a
// key from a header or a query parameter with the known keys in constant
// time. A refused request gets 401 with WWW-Authenticate and a JSON (or
// gRPC) error; no token or key ever reaches a log line.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Settings are one policy of [auth], resolved (files absolute). The
// JSON names are the platform file's keys; secrets are left out of it.
type Settings struct {
	Kind string `json:"kind"` // jwt | api_key

	// jwt
	Secret   string `json:"-"`                   // HS256
	JWKSFile string `json:"jwks_file,omitempty"` // RS256, ES256, EdDSA keys by kid
	// JWKSURL is where the keys are fetched (https, or http on
	// loopback), again every JWKSRefresh and when a token names a kid
	// the set lacks (at most every 10 s).
	JWKSURL     string        `json:"jwks_url,omitempty"`
	JWKSRefresh time.Duration `json:"jwks_refresh,omitempty"`
	Issuer      string        `json:"issuer,omitempty"`
	Audience    string        `json:"audience,omitempty"`
	Leeway      time.Duration `json:"leeway"`
	Algorithms  []string      `json:"algorithms"`
	// ForwardClaims maps a claim to the header it is sent to the
	// instance in (any header of that name the client sent is dropped).
	ForwardClaims map[string]string `json:"forward_claims,omitempty"`

	// api_key
	Keys     []string `json:"-"`
	KeysFile string   `json:"keys_file,omitempty"` // one key a line; # comments
	Header   string   `json:"header,omitempty"`    // default X-Api-Key
	Query    string   `json:"query,omitempty"`     // a query parameter, when keys come there

	// Digest stands for the secrets in the JSON form, so that a changed
	// secret is a change without the secret being shown.
	Digest string `json:"secret_digest,omitempty"`
}

// Defaults are what a policy that sets nothing gets: the one place they
// are written.
var Defaults = Settings{Leeway: 30 * time.Second, Header: "X-Api-Key", JWKSRefresh: 5 * time.Minute}

// The JWT algorithms a policy accepts unless it names its own: HS256
// with a secret, the asymmetric ones with a JWKS.
var (
	SecretAlgorithms = []string{"HS256"}
	KeyAlgorithms    = []string{"RS256", "ES256", "EdDSA"}
)

// Identity is who a request was found to be.
type Identity struct {
	Subject string
	Claims  jwt.MapClaims // jwt only
	// APIKey stands for the API key a request came with (a digest, never
	// the key), for a rate limit keyed by it.
	APIKey string
}

// Policy is a compiled policy. Safe for concurrent use.
type Policy struct {
	Name string
	s    Settings
	// jwt
	keys   jwk.Set // a jwks_file's
	remote *remoteKeys
	secret []byte
	parser *jwt.Parser
	// api_key: the keys' SHA-256 sums, compared in constant time
	sums [][32]byte
}

// New compiles a policy (a jwks_url is fetched); an error names what
// does not load.
func New(name string, s Settings) (*Policy, error) { return build(name, s, true) }

// Validate checks a policy as New does, but for fetching its jwks_url
// (composer validate works offline).
func Validate(name string, s Settings) error {
	_, err := build(name, s, false)
	return err
}

func build(name string, s Settings, fetch bool) (*Policy, error) {
	p := &Policy{Name: name, s: s}
	switch s.Kind {
	case "jwt":
		algs := s.Algorithms
		sources := 0
		for _, set := range []bool{s.Secret != "", s.JWKSFile != "", s.JWKSURL != ""} {
			if set {
				sources++
			}
		}
		switch {
		case sources > 1:
			return nil, errors.New("a jwt policy has one of secret, jwks_file and jwks_url")
		case s.JWKSURL != "":
			u, err := url.Parse(s.JWKSURL)
			if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Hostname())) {
				return nil, fmt.Errorf("jwks_url %q is not https (or http on loopback)", s.JWKSURL)
			}
			refresh := s.JWKSRefresh
			if refresh <= 0 {
				refresh = Defaults.JWKSRefresh
			}
			p.remote = &remoteKeys{url: s.JWKSURL, refresh: refresh, client: &http.Client{Timeout: 5 * time.Second}}
			if fetch {
				if err := p.remote.fetch(); err != nil {
					return nil, err
				}
			}
			if len(algs) == 0 {
				algs = KeyAlgorithms
			}
		case s.Secret != "":
			p.secret = []byte(s.Secret)
			if len(algs) == 0 {
				algs = SecretAlgorithms
			}
		case s.JWKSFile != "":
			data, err := os.ReadFile(s.JWKSFile)
			if err != nil {
				return nil, err
			}
			if p.keys, err = jwk.Parse(data); err != nil {
				return nil, fmt.Errorf("jwks_file %s: %w", s.JWKSFile, err)
			}
			if len(algs) == 0 {
				algs = KeyAlgorithms
			}
		default:
			return nil, errors.New("a jwt policy needs a secret (HS256), a jwks_file or a jwks_url")
		}
		opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(s.Leeway), jwt.WithExpirationRequired()}
		if s.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(s.Issuer))
		}
		if s.Audience != "" {
			opts = append(opts, jwt.WithAudience(s.Audience))
		}
		p.parser = jwt.NewParser(opts...)
	case "api_key":
		keys := append([]string(nil), s.Keys...)
		if s.KeysFile != "" {
			data, err := os.ReadFile(s.KeysFile)
			if err != nil {
				return nil, err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					keys = append(keys, line)
				}
			}
		}
		if len(keys) == 0 {
			return nil, errors.New("an api_key policy needs keys (from @env) or a keys_file")
		}
		for _, k := range keys {
			p.sums = append(p.sums, sha256.Sum256([]byte(k)))
		}
	default:
		return nil, fmt.Errorf("kind %q is not jwt or api_key", s.Kind)
	}
	return p, nil
}

// Refusal is why a request was refused, for its 401.
type Refusal struct {
	challenge string // WWW-Authenticate
	msg       string
}

func (r *Refusal) Error() string { return r.msg }

// Challenge is the refusal's WWW-Authenticate header.
func (r *Refusal) Challenge() string { return r.challenge }

// maxToken bounds a bearer token or a key a client may send.
const maxToken = 8 << 10

// Check authenticates a request: its identity, or a *Refusal.
func (p *Policy) Check(r *http.Request) (Identity, error) {
	if p.s.Kind == "api_key" {
		return p.checkKey(r)
	}
	refuse := func(code, msg string) (Identity, error) {
		ch := fmt.Sprintf(`Bearer realm=%q`, p.Name)
		if code != "" {
			ch += fmt.Sprintf(`, error=%q, error_description=%q`, code, msg)
		}
		return Identity{}, &Refusal{challenge: ch, msg: msg}
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return refuse("", "a bearer token is needed (Authorization: Bearer <token>)")
	}
	if len(raw) > maxToken {
		return refuse("invalid_token", "the token is too long")
	}
	claims := jwt.MapClaims{}
	_, err := p.parser.ParseWithClaims(raw, claims, p.key)
	if err != nil {
		return refuse("invalid_token", tokenProblem(err))
	}
	sub, _ := claims.GetSubject()
	return Identity{Subject: sub, Claims: claims}, nil
}

// tokenProblem says why a token was refused, without its content.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not for this audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is not from the expected issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signature does not verify"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	}
	return "the token is not valid"
}

// key finds the key a token is signed with: the secret, or the JWKS key
// of its kid (the only key when the set has one and the token names
// none).
func (p *Policy) key(t *jwt.Token) (any, error) {
	if p.secret != nil {
		return p.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	keys := p.keys
	if p.remote != nil {
		keys = p.remote.set(kid)
	}
	var k jwk.Key
	var ok bool
	if kid != "" {
		k, ok = keys.LookupKeyID(kid)
	} else if keys.Len() == 1 {
		k, ok = keys.Key(0)
	}
	if !ok {
		return nil, fmt.Errorf("no key %q in the JWKS", kid)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkKey authenticates an API key, from the header or the query
// parameter, against every known key in constant time.
func (p *Policy) checkKey(r *http.Request) (Identity, error) {
	key := r.Header.Get(p.s.Header)
	if key == "" && p.s.Query != "" {
		key = r.URL.Query().Get(p.s.Query)
	}
	where := "the " + p.s.Header + " header"
	if p.s.Query != "" {
		where += " or the " + p.s.Query + " query parameter"
	}
	refusal := &Refusal{challenge: fmt.Sprintf(`ApiKey realm=%q`, p.Name)}
	if key == "" {
		refusal.msg = "an API key is needed in " + where
		return Identity{}, refusal
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	for _, k := range p.sums {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	if match != 1 || len(key) > maxToken {
		refusal.msg = "the API key is not known"
		return Identity{}, refusal
	}
	return Identity{APIKey: hex.EncodeToString(sum[:8])}, nil
}

// Forward sets the identity's forwarded claims as headers of the
// request to the instance. Any header of those names that the client
// sent is dropped first, so that no client can claim an identity.
func (p *Policy) Forward(r *http.Request, id Identity) {
	for claim, header := range p.s.ForwardClaims {
		r.Header.Del(header)
		switch v := id.Claims[claim].(type) {
		case string:
			r.Header.Set(header, v)
		case float64:
			r.Header.Set(header, strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			r.Header.Set(header, strconv.FormatBool(v))
		}
	}
}

type identityKey struct{}

// WithIdentity is ctx with the request's identity, for what comes after
// the check (a rate limit keyed by jwt:sub).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom is the identity WithIdentity put in ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// remoteKeys is a jwks_url's key set: fetched at the start, then again
// in the background once it is older than refresh, and at once (at most
// every 10 s) when a token names a kid it lacks. A fetch that fails
// keeps the set there was. Safe for concurrent use.
type remoteKeys struct {
	url     string
	refresh time.Duration
	client  *http.Client

	mu       sync.Mutex
	keys     jwk.Set
	fetched  time.Time // the last fetch that worked
	tried    time.Time // the last fetch begun
	fetching bool
}

// maxJWKS bounds a fetched key set.
const maxJWKS = 1 << 20

func (r *remoteKeys) fetch() error {
	resp, err := r.client.Get(r.url)
	if err != nil {
		return fmt.Errorf("jwks_url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks_url %s answered %s", r.url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS))
	if err != nil {
		return fmt.Errorf("jwks_url: %w", err)
	}
	set, err := jwk.Parse(data)
	if err != nil {
		return fmt.Errorf("jwks_url %s: %w", r.url, err)
	}
	r.mu.Lock()
	r.keys, r.fetched = set, time.Now()
	r.mu.Unlock()
	return nil
}

// set is the key set for a token with kid: fetched again first when it
// lacks the kid (and the last try is 10 s old), in the background when it
// is stale.
func (r *remoteKeys) set(kid string) jwk.Set {
	r.mu.Lock()
	keys := r.keys
	_, known := keys.LookupKeyID(kid)
	missing := kid != "" && !known && time.Since(r.tried) > 10*time.Second
	stale := time.Since(r.fetched) > r.refresh && !r.fetching && time.Since(r.tried) > 10*time.Second
	if missing || stale {
		r.tried = time.Now()
	}
	if stale && !missing {
		r.fetching = true
	}
	r.mu.Unlock()
	switch {
	case missing:
		if r.fetch() == nil {
			r.mu.Lock()
			keys = r.keys
			r.mu.Unlock()
		}
	case stale:
		go func() {
			r.fetch()
			r.mu.Lock()
			r.fetching = false
			r.mu.Unlock()
		}()
	}
	return keys
}

// loopbackHost reports whether a URL's host is loopback.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
