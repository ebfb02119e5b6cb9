package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func hs256(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withDefaults(s Settings) Settings {
	if s.Leeway == 0 {
		s.Leeway = Defaults.Leeway
	}
	if s.Header == "" {
		s.Header = Defaults.Header
	}
	return s
}

// TestJWT: valid, expired, not yet valid, another audience or issuer,
// another key, alg none, no token, malformed; the claims forwarded.
func TestJWT(t *testing.T) {
	p, err := New("users", withDefaults(Settings{Kind: "jwt", Secret: "s3cret", Issuer: "shop", Audience: "api",
		ForwardClaims: map[string]string{"sub": "X-User-Id", "admin": "X-Admin"}}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ok := jwt.MapClaims{"sub": "ada", "iss": "shop", "aud": "api", "exp": now.Add(time.Hour).Unix(), "admin": true}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for a, b := range ok {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, ok).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"valid", "Bearer " + hs256(t, "s3cret", ok), ""},
		{"within the leeway", "Bearer " + hs256(t, "s3cret", with("exp", now.Add(-10*time.Second).Unix())), ""},
		{"expired", "Bearer " + hs256(t, "s3cret", with("exp", now.Add(-time.Hour).Unix())), "expired"},
		{"without exp", "Bearer " + hs256(t, "s3cret", with("exp", nil)), "required claim"},
		{"not yet", "Bearer " + hs256(t, "s3cret", with("nbf", now.Add(time.Hour).Unix())), "not valid yet"},
		{"another audience", "Bearer " + hs256(t, "s3cret", with("aud", "billing")), "audience"},
		{"another issuer", "Bearer " + hs256(t, "s3cret", with("iss", "evil")), "issuer"},
		{"another key", "Bearer " + hs256(t, "guess", ok), "signature"},
		{"alg none", "Bearer " + none, "signature"},
		{"no token", "", "bearer token is needed"},
		{"basic", "Basic YWRhOnB3", "bearer token is needed"},
		{"malformed", "Bearer not.a.jwt", "malformed"},
		{"too long", "Bearer " + strings.Repeat("a", maxToken+1), "too long"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		id, err := p.Check(r)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && id.Subject != "ada":
			t.Errorf("%s: subject %q", tc.name, id.Subject)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		case tc.want != "" && !strings.HasPrefix(err.(*Refusal).Challenge(), `Bearer realm="users"`):
			t.Errorf("%s: challenge %q", tc.name, err.(*Refusal).Challenge())
		}
		if err != nil && strings.Contains(err.Error(), "eyJ") {
			t.Errorf("%s: the refusal shows the token: %v", tc.name, err)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+hs256(t, "s3cret", ok))
	r.Header.Set("X-User-Id", "root") // a client claiming an identity
	id, err := p.Check(r)
	if err != nil {
		t.Fatal(err)
	}
	p.Forward(r, id)
	if r.Header.Get("X-User-Id") != "ada" || r.Header.Get("X-Admin") != "true" || len(r.Header.Values("X-User-Id")) != 1 {
		t.Errorf("forwarded: %v", r.Header)
	}
}

// TestJWKS: ES256 tokens verified with a JWKS file's key by kid.
func TestJWKS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := jwk.Import(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub.Set(jwk.KeyIDKey, "k1")
	pub.Set(jwk.AlgorithmKey, "ES256")
	set := jwk.NewSet()
	set.AddKey(pub)
	data, _ := json.Marshal(set)
	file := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(file, data, 0o644)
	p, err := New("partners", withDefaults(Settings{Kind: "jwt", JWKSFile: file}))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid string, k *ecdsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "acme", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"its key", sign("k1", key), true},
		{"another key, same kid", sign("k1", other), false},
		{"an unknown kid", sign("k2", key), false},
		{"HS256 with the public key as a secret", hs256(t, string(data), jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Hour).Unix()}), false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tc.token)
		if _, err := p.Check(r); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestAPIKey: a key from the header or the query parameter, one of
// several, from @env-style keys or a file.
func TestAPIKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(file, []byte("# partners\nfile-key-1\n\nfile-key-2\n"), 0o600)
	p, err := New("partners", withDefaults(Settings{Kind: "api_key", Keys: []string{"env-key"}, KeysFile: file, Query: "api_key"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header, query string
		ok            bool
	}{
		{"env-key", "", true}, {"file-key-2", "", true}, {"", "file-key-1", true},
		{"nope", "", false}, {"", "", false}, {"# partners", "", false}, {"env-key ", "", false},
	} {
		r := httptest.NewRequest("GET", "/?api_key="+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("X-Api-Key", tc.header)
		}
		id, err := p.Check(r)
		if (err == nil) != tc.ok || tc.ok && id.APIKey == "" {
			t.Errorf("header %q query %q: %+v %v", tc.header, tc.query, id, err)
		}
	}
	if _, err := New("x", withDefaults(Settings{Kind: "api_key"})); err == nil {
		t.Error("an api_key policy without keys compiled")
	}
}

// FuzzCheck: whatever a client sends in Authorization, Check answers
// without a panic, and refuses what the secret did not sign.
func FuzzCheck(f *testing.F) {
	p, err := New("users", withDefaults(Settings{Kind: "jwt", Secret: "s3cret"}))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer ....", "Bearer " + strings.Repeat("x.", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		if _, err := p.Check(r); err == nil {
			t.Fatalf("%q passed", header)
		}
	})
}

// BenchmarkCheckJWT is the cost a jwt policy adds to a request: an HS256
// token parsed and verified, its claims checked.
func BenchmarkCheckJWT(b *testing.B) {
	p, err := New("users", withDefaults(Settings{Kind: "jwt", Secret: "s3cret", Audience: "api"}))
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ada", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("s3cret"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Check(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckAPIKey is the cost of an api_key policy with 10 keys.
func BenchmarkCheckAPIKey(b *testing.B) {
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	p, err := New("partners", withDefaults(Settings{Kind: "api_key", Keys: keys}))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Api-Key", "key-9")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Check(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJWKSURL: keys fetched from a loopback JWKS endpoint; a token with a
// kid the set lacks (a rotation) fetches it again; only https or
// loopback http is taken.
func TestJWKSURL(t *testing.T) {
	var mu sync.Mutex
	set := jwk.NewSet()
	addKey := func(kid string) *ecdsa.PrivateKey {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, _ := jwk.Import(key.Public())
		pub.Set(jwk.KeyIDKey, kid)
		mu.Lock()
		set.AddKey(pub)
		mu.Unlock()
		return key
	}
	k1 := addKey("k1")
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	p, err := New("idp", withDefaults(Settings{Kind: "jwt", JWKSURL: srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid string, k *ecdsa.PrivateKey) *http.Request {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "acme", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, _ := tok.SignedString(k)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+s)
		return r
	}
	if _, err := p.Check(sign("k1", k1)); err != nil {
		t.Fatal(err)
	}
	k2 := addKey("k2") // the identity provider rotates
	if _, err := p.Check(sign("k2", k2)); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
	if _, err := p.Check(sign("k3", k2)); err == nil {
		t.Error("an unknown kid passed")
	}
	mu.Lock()
	if fetches != 2 {
		t.Errorf("%d fetches, want 2 (the start and the rotation; an unknown kid right after waits 10 s)", fetches)
	}
	mu.Unlock()
	if _, err := New("idp", withDefaults(Settings{Kind: "jwt", JWKSURL: "http://idp.example.com/jwks"})); err == nil {
		t.Error("a plain http jwks_url off loopback was taken")
	}
}
