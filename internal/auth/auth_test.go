package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
