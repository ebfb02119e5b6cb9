package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminTokenThroughTheBinary: with admin_token from @env, the admin
// API refuses a request without it, the token never shows in the
// platform it serves, and `composer plan` sends COMPOSER_ADMIN_TOKEN.
func TestAdminTokenThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const token = "e2e-admin-token-7f3a"
	t.Setenv("COMPOSER_ADMIN_TOKEN", token)
	file := filepath.Join(dir, "platform.tsk")
	writePlatform(t, file, fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
admin_token: @env("COMPOSER_ADMIN_TOKEN")
data_dir: %q
[services]
users { kind: "builtin", routes: ["/users"] }
`, filepath.Join(dir, "data")))
	b := startBinary(t, bin, file)
	if status, body := httpDo(t, "GET", b.admin+"/v1/status", ""); status != 401 || !strings.Contains(body, "Bearer") {
		t.Errorf("/v1/status without the token: %d %s", status, body)
	}
	if status, _ := httpDo(t, "POST", b.admin+"/v1/reload", ""); status != 401 {
		t.Errorf("POST /v1/reload without the token: %d", status)
	}
	if status, _ := httpDo(t, "GET", b.admin+"/healthz", ""); status != 200 {
		t.Errorf("/healthz: %d", status)
	}
	plan := func(env ...string) (string, error) {
		cmd := exec.Command(bin, "plan", "-f", file, "--admin", strings.TrimPrefix(b.admin, "http://"))
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := plan(); err != nil || strings.Contains(out, token) {
		t.Errorf("composer plan with COMPOSER_ADMIN_TOKEN: %v\n%s", err, out)
	}
	if out, err := plan("COMPOSER_ADMIN_TOKEN=wrong"); err == nil {
		t.Errorf("composer plan with a wrong token succeeded:\n%s", out)
	}
	b.stop(t)
}

// TestRefusesAnOpenAdminWithoutToken: an admin address off loopback
// without admin_token stops the composer before it listens anywhere (the
// address is a documentation one, never bound).
func TestRefusesAnOpenAdminWithoutToken(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	writePlatform(t, file, fmt.Sprintf("[composer]\nlisten: \"127.0.0.1:0\"\nadmin: \"192.0.2.1:9090\"\ndata_dir: %q\n", filepath.Join(dir, "data")))
	out, err := exec.Command(bin, "-f", file).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `platform.tsk:3:8: admin "192.0.2.1:9090" is not a loopback address`) ||
		!strings.Contains(string(out), "admin_token") {
		t.Errorf("the composer with an open admin and no token: %v\n%s", err, out)
	}
}
