package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/internal/testcert"
)

// TestHTTPSThroughTheBinary: curl, a client other than Go's, speaks
// HTTP/2 over TLS with the gateway, and gets the renewed certificate after
// the files are replaced, without a restart.
func TestHTTPSThroughTheBinary(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed; .ci/run installs it")
		}
		t.Skip("curl is not installed (apt-get install curl); CI runs this test")
	}
	dir := t.TempDir()
	if _, err := testcert.Write(dir, "gateway", "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	writePlatform(t, file, fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
tls { cert_file: "gateway.pem", key_file: "gateway-key.pem" }
[services]
users { kind: "builtin", routes: ["/users", "/users/:id"] }
`, filepath.Join(dir, "data")))
	b := startBinary(t, bin, file)
	url := strings.Replace(b.gateway, "http://", "https://", 1) + "/users"
	get := func() string {
		t.Helper()
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", filepath.Join(dir, "gateway.pem"),
			"-X", "POST", "-d", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`,
			"-w", "\nhttp_version=%{http_version} code=%{http_code}", url).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("curl: %v: %s", err, out)
		}
		return string(out)
	}
	if out := get(); !strings.Contains(out, "http_version=2 code=201") {
		t.Fatalf("curl over HTTPS: %s", out)
	}
	// Renewed: curl trusts only the new certificate; the composer serves it
	// within a second or so, without a restart.
	if _, err := testcert.Write(dir, "gateway", "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renewed certificate", func() bool { return strings.Contains(get(), "http_version=2 code=409") })
	b.stop(t)
}
