package composer

import (
	"os"
	"regexp"
	"testing"
)

// TestReferencePage: docs/platform.md's key tables are Reference as it
// is (-update rewrites them).
func TestReferencePage(t *testing.T) {
	const page = "../docs/platform.md"
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)(<!-- reference: ([a-z_]+) [^\n]*-->\n)(.*?)(<!-- /reference -->)`)
	seen := map[string]bool{}
	got := block.ReplaceAllStringFunc(string(src), func(m string) string {
		p := block.FindStringSubmatch(m)
		seen[p[2]] = true
		return p[1] + ReferenceTable(p[2]) + p[4]
	})
	for _, s := range Reference {
		if !seen[s.Name] {
			t.Errorf("%s has no table of [%s]", page, s.Name)
		}
	}
	if got != string(src) {
		if *update {
			os.WriteFile(page, []byte(got), 0o644)
			return
		}
		t.Errorf("%s's key tables differ from composer/reference.go: go test ./composer -run ReferencePage -update", page)
	}
}

// TestReferenceCoversTheSchema: every key a platform file may hold has
// its row in Reference.
func TestReferenceCoversTheSchema(t *testing.T) {
	for _, path := range SchemaPaths() {
		if _, _, ok := LookupDoc(path); !ok {
			t.Errorf("%s: no row in composer/reference.go", path)
		}
	}
}

func TestLookupDoc(t *testing.T) {
	for path, want := range map[string]string{
		"composer.listen":                                   "`listen`",
		"composer.tls.cert_file":                            "`tls { cert_file, key_file }`",
		"composer.tls.certificates.hosts":                   "`tls { certificates: [{ hosts, cert_file, key_file }] }`",
		"services.users.timeout":                            "`timeout`",
		"services.users.cors.max_age":                       "`cors { allow_origins, allow_methods, allow_headers, expose_headers, allow_credentials, max_age }`",
		"circuit_breaker.users.recovery_timeout":            "`recovery_timeout`",
		"health_checks.outlier_detection.max_ejection_time": "`outlier_detection { consecutive_failures, base_ejection_time, max_ejection_time, max_ejection_percent }`",
		"auth.users_jwt.audience":                           "`issuer`, `audience`",
		"event_routes.welcome.filter":                       "`filter`",
	} {
		if _, k, ok := LookupDoc(path); !ok || k.Key != want {
			t.Errorf("LookupDoc(%s) = %q %v, want %q", path, k.Key, ok, want)
		}
	}
	if _, _, ok := LookupDoc("composer.nope"); ok {
		t.Error("a key that does not exist has a doc")
	}
}
