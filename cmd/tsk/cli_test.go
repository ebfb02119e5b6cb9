package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantCode  int
		wantOut   string // exact, when set
		outHas    string
		errHas    string
		wantNoOut bool
		wantNoErr bool
	}{
		{name: "no command", args: nil, wantCode: 2, errHas: "usage: tsk"},
		{name: "unknown command", args: []string{"frob"}, wantCode: 2, errHas: `unknown command "frob"`},
		{name: "help", args: []string{"-h"}, wantCode: 0, outHas: "usage: tsk"},
		{name: "json", args: []string{"json", "testdata/good.tsk"}, wantCode: 0,
			wantOut: "{\n  \"name\": \"shop\",\n  \"port\": 8080,\n  \"db\": {\n    \"host\": \"localhost\",\n    \"replicas\": [\n      \"a\",\n      \"b\"\n    ],\n    \"ratio\": 0.5,\n    \"flag\": true,\n    \"nothing\": null,\n    \"r\": {\n      \"min\": 1,\n      \"max\": 5,\n      \"type\": \"range\"\n    }\n  }\n}\n"},
		{name: "json compact", args: []string{"json", "-c", "testdata/good.tsk"}, wantCode: 0, outHas: `{"name":"shop","port":8080,"db":{`},
		{name: "json stdin", args: []string{"json", "-"}, stdin: "a: 1 + 2\n", wantCode: 0, wantOut: "{\n  \"a\": 3\n}\n"},
		{name: "json errors", args: []string{"json", "testdata/bad.tsk"}, wantCode: 1, wantNoOut: true,
			errHas: "testdata/bad.tsk:1:4: unexpected end of line, expected a value\ntestdata/bad.tsk:2:4: undefined variable $missing"},
		{name: "json stdin errors", args: []string{"json", "-"}, stdin: "a: \"x\" * 2\n", wantCode: 1, errHas: "<stdin>:1:8: invalid operation"},
		{name: "json missing file", args: []string{"json", "testdata/none.tsk"}, wantCode: 1, errHas: "testdata/none.tsk: open testdata/none.tsk: no such file"},
		{name: "json usage", args: []string{"json"}, wantCode: 2, errHas: "usage: tsk json"},
		{name: "check json", args: []string{"check", "--format", "json", "testdata/good.tsk", "testdata/bad.tsk"}, wantCode: 1,
			outHas: "\"file\": \"testdata/bad.tsk\",\n    \"line\": 1,\n    \"column\": 4,\n    \"end_line\": 1,\n    \"end_column\": 4,\n    \"severity\": \"error\",\n    \"message\": \"unexpected end of line, expected a value\""},
		{name: "check json valid", args: []string{"check", "--format", "json", "testdata/good.tsk"}, wantCode: 0, wantOut: "[]\n"},
		{name: "check bad format", args: []string{"check", "--format", "xml", "testdata/good.tsk"}, wantCode: 2, errHas: "--format is text or json"},
		{name: "json help", args: []string{"json", "-h"}, wantCode: 0, errHas: "usage: tsk json"},
		{name: "get string", args: []string{"get", "testdata/good.tsk", "db.host"}, wantCode: 0, wantOut: "localhost\n"},
		{name: "get int", args: []string{"get", "testdata/good.tsk", "port"}, wantCode: 0, wantOut: "8080\n"},
		{name: "get float", args: []string{"get", "testdata/good.tsk", "db.ratio"}, wantCode: 0, wantOut: "0.5\n"},
		{name: "get bool", args: []string{"get", "testdata/good.tsk", "db.flag"}, wantCode: 0, wantOut: "true\n"},
		{name: "get null", args: []string{"get", "testdata/good.tsk", "db.nothing"}, wantCode: 0, wantOut: "null\n"},
		{name: "get index", args: []string{"get", "testdata/good.tsk", "db.replicas.1"}, wantCode: 0, wantOut: "b\n"},
		{name: "get array", args: []string{"get", "testdata/good.tsk", "db.replicas"}, wantCode: 0, wantOut: "[\n  \"a\",\n  \"b\"\n]\n"},
		{name: "get range", args: []string{"get", "testdata/good.tsk", "db.r"}, wantCode: 0, outHas: `"type": "range"`},
		{name: "get missing", args: []string{"get", "testdata/good.tsk", "db.port"}, wantCode: 1, wantNoOut: true, errHas: `has no key "db.port"`},
		{name: "get usage", args: []string{"get", "testdata/good.tsk"}, wantCode: 2, errHas: "usage: tsk get"},
		{name: "get help", args: []string{"get", "-h"}, wantCode: 0, errHas: "usage: tsk get"},
		{name: "check ok", args: []string{"check", "testdata/good.tsk"}, wantCode: 0, wantNoOut: true, wantNoErr: true},
		{name: "check several", args: []string{"check", "testdata/good.tsk", "testdata/bad.tsk"}, wantCode: 1, errHas: "testdata/bad.tsk:2:4:"},
		{name: "check usage", args: []string{"check"}, wantCode: 2, errHas: "usage: tsk check"},
		{name: "check help", args: []string{"check", "-h"}, wantCode: 0},
		{name: "fmt stdout", args: []string{"fmt", "testdata/unformatted.tsk"}, wantCode: 0, wantOut: "name: \"x\"\nblock {\n    k: 1\n}\n"},
		{name: "fmt list", args: []string{"fmt", "-l", "testdata/unformatted.tsk", "testdata/good.tsk"}, wantCode: 0, outHas: "testdata/unformatted.tsk\n"},
		{name: "fmt stdin", args: []string{"fmt", "-"}, stdin: "a=1;b=2\n", wantCode: 0, wantOut: "a: 1\nb: 2\n"},
		{name: "fmt syntax error", args: []string{"fmt", "testdata/bad.tsk"}, wantCode: 1, wantNoOut: true, errHas: "testdata/bad.tsk:1:4:"},
		{name: "fmt usage", args: []string{"fmt"}, wantCode: 2, errHas: "usage: tsk fmt"},
		{name: "fmt help", args: []string{"fmt", "-h"}, wantCode: 0, errHas: "-w"},
		{name: "fmt bad flag", args: []string{"fmt", "-x", "a.tsk"}, wantCode: 2, errHas: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("stdout\n%q\nwant\n%q", out.String(), tt.wantOut)
			}
			if !strings.Contains(out.String(), tt.outHas) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.outHas)
			}
			if !strings.Contains(errOut.String(), tt.errHas) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.errHas)
			}
			if tt.wantNoOut && out.Len() > 0 {
				t.Errorf("unexpected stdout %q", out.String())
			}
			if tt.wantNoErr && errOut.Len() > 0 {
				t.Errorf("unexpected stderr %q", errOut.String())
			}
		})
	}
}

func TestFmtWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.tsk")
	if err := os.WriteFile(path, []byte("a=1\n# keep me\nb { c = 2 }\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"fmt", "-w", path}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got, _ := os.ReadFile(path)
	if want := "a: 1\n# keep me\nb { c: 2 }\n"; string(got) != want {
		t.Errorf("file is %q, want %q", got, want)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", info.Mode().Perm())
	}
	if out.Len() > 0 {
		t.Errorf("-w wrote to stdout: %q", out.String())
	}
}
