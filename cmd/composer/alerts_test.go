package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool returns Prometheus' rule checker: on the PATH, or put into
// ../../.bin by scripts/promtool.sh (CI runs it; here the test does).
func promtool(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("promtool"); err == nil {
		return path
	}
	path, _ := filepath.Abs("../../.bin/promtool")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	out, err := exec.Command("../../scripts/promtool.sh").CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is needed (scripts/promtool.sh): %v\n%s", err, out)
		}
		t.Skipf("no promtool (scripts/promtool.sh failed: %v); CI runs this test", err)
	}
	return path
}

// TestAlertsPassPromtool: `composer alerts` writes rules that promtool
// accepts for every example platform, and that fire, with the labels and
// annotations expected, on sample series (testdata/alerts/*_test.yml).
func TestAlertsPassPromtool(t *testing.T) {
	tool := promtool(t)
	files, _ := filepath.Glob("../../examples/*/platform.tsk")
	files = append(files, "../../platform.tsk")
	for _, file := range files {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"alerts", "-f", file}, &stdout, &stderr); code != 0 {
			t.Fatalf("composer alerts -f %s: %d %s", file, code, stderr.String())
		}
		dir := t.TempDir()
		rules := filepath.Join(dir, "rules.yml")
		os.WriteFile(rules, stdout.Bytes(), 0o644)
		if out, err := exec.Command(tool, "check", "rules", rules).CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool check rules on the alerts of %s: %v\n%s\n%s", file, err, out, stdout.String())
		}
		if file != "../../platform.tsk" {
			continue
		}
		cases, _ := os.ReadFile("testdata/alerts/shop_test.yml")
		os.WriteFile(filepath.Join(dir, "shop_test.yml"), cases, 0o644)
		if out, err := exec.Command(tool, "test", "rules", filepath.Join(dir, "shop_test.yml")).CombinedOutput(); err != nil {
			t.Errorf("promtool test rules: %v\n%s", err, out)
		}
	}
}
