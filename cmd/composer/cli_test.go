package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		outHas   string
		errHas   string
	}{
		{"default platform", []string{"validate", "-f", "../../platform.tsk"}, 0, "3 services, 2 event routes (1 files)", ""},
		{"reference platform", []string{"validate", "-f", "../../examples/reference/platform.tsk"}, 0, "5 services", ""},
		{"every problem at once", []string{"validate", "-f", "../../composer/testdata/invalid.tsk"}, 1, "",
			"../../composer/testdata/invalid.tsk:3:66: \"user\" is not a service (did you mean \"users\"?)\n"},
		{"schema problems", []string{"validate", "-f", "../../composer/testdata/typos.tsk"}, 1, "",
			"typos.tsk:2:1: unknown key \"nmae\" in composer (did you mean \"name\"?)"},
		{"missing file", []string{"validate", "-f", "nope.tsk"}, 1, "", "nope.tsk: open nope.tsk: no such file"},
		{"stray argument", []string{"validate", "x"}, 2, "", "usage: composer validate"},
		{"help", []string{"validate", "-h"}, 0, "", "usage: composer validate"},
		{"unknown command", []string{"frob"}, 2, "", `unknown command "frob"`},
		{"version", []string{"version"}, 0, "composer ", ""},
		{"--version", []string{"--version"}, 0, "(commit ", ""},
		{"events help without a platform", []string{"events", "-h", "-f", "/nonexistent.tsk"}, 0, "composer events publish", ""},
		{"events help", []string{"events", "-h"}, 0, "tail", ""},
		{"completion bash", []string{"completion", "bash"}, 0, "complete -F _composer composer", ""},
		{"completion zsh", []string{"completion", "zsh"}, 0, "bashcompinit", ""},
		{"completion fish", []string{"completion", "fish"}, 0, "__fish_seen_subcommand_from plan' -l format", ""},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, 2, "", "no completion"},
		{"warnings only", []string{"validate", "-f", "../../composer/testdata/warnings.tsk"}, 0, "2 services", "warning: services.users.strip_prefix"},
		{"validate as json", []string{"validate", "-f", "../../composer/testdata/invalid.tsk", "--format", "json"}, 1, `"severity": "error"`, ""},
		{"warnings as json", []string{"validate", "-f", "../../composer/testdata/warnings.tsk", "--format", "json"}, 0, `"severity": "warning"`, ""},
		{"graph as mermaid", []string{"graph", "-f", "../../platform.tsk"}, 0, "svc_orders ==>|\"breaker orders->users\"| svc_users", ""},
		{"graph as dot", []string{"graph", "-f", "../../platform.tsk", "--format", "dot"}, 0, "topic_user_created -> svc_notifications", ""},
		{"graph of a bad format", []string{"graph", "-f", "../../platform.tsk", "--format", "png"}, 2, "", `--format "png"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.outHas) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.outHas)
			}
			if tt.name == "default platform" && errOut.Len() > 0 {
				t.Errorf("the default platform has warnings: %s", errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.errHas) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.errHas)
			}
		})
	}
}

// TestValidateJSONRanges: every diagnostic of --format json has its file,
// position and range, the end at or after the start.
func TestValidateJSONRanges(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-f", "../../composer/testdata/invalid.tsk", "--format", "json"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var diags []struct {
		File              string
		Line, Column      int
		EndLine           int `json:"end_line"`
		EndColumn         int `json:"end_column"`
		Severity, Message string
	}
	if err := json.Unmarshal(out.Bytes(), &diags); err != nil || len(diags) == 0 {
		t.Fatalf("%v: %s", err, out.String())
	}
	ranged := 0
	for _, d := range diags {
		if d.File == "" || d.Line == 0 || d.Message == "" || d.Severity != "error" {
			t.Errorf("incomplete: %+v", d)
		}
		if d.EndLine < d.Line || d.EndLine == d.Line && d.EndColumn < d.Column {
			t.Errorf("ends before it starts: %+v", d)
		}
		if d.EndLine > d.Line || d.EndColumn > d.Column {
			ranged++
		}
	}
	if ranged == 0 {
		t.Error("no diagnostic has a range")
	}
}
