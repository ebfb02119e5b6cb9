package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNeovim: a real editor, Neovim headless with its built-in LSP
// client on `tsk lsp`, opens a platform file with a misspelt key, shows
// the diagnostic at its line and column, and lists failure_threshold
// among the completions inside [circuit_breaker]. CI installs neovim.
func TestNeovim(t *testing.T) {
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nvim is needed (CI installs neovim)")
		}
		t.Skip("neovim is not installed (apt-get install neovim); CI runs this test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tsk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	os.WriteFile(file, []byte(`[composer]
name: "shop"

[circuit_breaker]
failure_treshold: 5

recovery_timeout: "10s"
`), 0o644)
	out := filepath.Join(dir, "out.txt")
	init, _ := filepath.Abs("testdata/nvim/init.lua")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "--clean", "-u", init)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TSK_BIN="+bin, "TSK_FILE="+file, "TSK_LINE=5", "TSK_OUT="+out, "HOME="+dir, "XDG_STATE_HOME="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nvim: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("nvim wrote nothing: %v", err)
	}
	got := string(b)
	if !strings.Contains(got, `diagnostic 5:19 circuit_breaker.failure_treshold: expected an object, got int 5 (did you mean "failure_threshold"?)`) {
		t.Errorf("no diagnostic at 5:19 in:\n%s", got)
	}
	if !strings.Contains(got, "completion failure_threshold\n") {
		t.Errorf("no failure_threshold among the completions:\n%s", got)
	}
}
