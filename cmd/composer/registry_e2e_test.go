package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRegistryThroughTheBinary: a Python service the composer does not
// start registers itself with a TTL check and beats; it is served through
// the gateway; when it stops beating it is out of the balancer within its
// TTL and a reaping; it comes back with its next beat; deregistered (by
// `composer registry deregister`), it registers again on its next beat's
// 404; its registration survives a reload of the file.
func TestRegistryThroughTheBinary(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not installed; .ci/run installs it")
		}
		t.Skip("python3 is not installed; CI runs this test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	platform := func(extra string) string {
		return fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
[services]
quotes { kind: "http", discovery: "registry", routes: ["/quotes"] }
[health_checks]
interval: "200ms"
path: "/"
%s`, filepath.Join(dir, "data"), extra)
	}
	writePlatform(t, file, platform(""))
	b := startBinary(t, bin, file)
	admin := strings.TrimPrefix(b.admin, "http://")

	control := filepath.Join(dir, "control")
	setControl := func(v string) {
		if err := os.WriteFile(control, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setControl("beat")
	port := freePort(t)
	py := exec.Command("python3", "testdata/selfreg.py")
	py.Env = append(os.Environ(), "ADMIN="+admin, fmt.Sprintf("PORT=%d", port), "CONTROL="+control)
	py.Stderr = os.Stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })

	served := func() bool {
		status, body := httpDo(t, "GET", b.gateway+"/quotes", "")
		return status == 200 && body == "a quote"
	}
	waitFor(t, "the self-registered service served", served)
	list := func() string {
		out, _ := exec.Command(bin, "registry", "list", "--admin", admin).CombinedOutput()
		return string(out)
	}
	if out := list(); !strings.Contains(out, fmt.Sprintf("quotes-%d", port)) || !strings.Contains(out, "passing") || !strings.Contains(out, "py") {
		t.Errorf("composer registry list:\n%s", out)
	}

	setControl("pause") // no more heartbeats: out within the TTL (2 s) and a reaping (1 s)
	paused := time.Now()
	waitFor(t, "the silent service out of the balancer", func() bool { status, _ := httpDo(t, "GET", b.gateway+"/quotes", ""); return status == 503 })
	if took := time.Since(paused); took > 4*time.Second {
		t.Errorf("out of the balancer after %s", took)
	}
	if out := list(); !strings.Contains(out, "critical") {
		t.Errorf("composer registry list after the silence:\n%s", out)
	}
	setControl("beat")
	waitFor(t, "served again after a beat", served)

	if out, err := exec.Command(bin, "registry", "deregister", "--admin", admin, fmt.Sprintf("quotes-%d", port)).CombinedOutput(); err != nil {
		t.Fatalf("composer registry deregister: %v\n%s", err, out)
	}
	waitFor(t, "registered again after its beat's 404", func() bool { return strings.Contains(list(), "passing") && served() })

	writePlatform(t, file, platform("\n[circuit_breaker]\nfailure_threshold: 3\n"))
	waitFor(t, "the reload applied", func() bool {
		_, body := httpDo(t, "GET", b.admin+"/v1/status", "")
		return strings.Contains(body, `"changed": true`) // the file's reload (the registry's swaps are not reloads)
	})
	if !served() {
		t.Error("the registered service is not served after a reload")
	}
	b.stop(t)
}
