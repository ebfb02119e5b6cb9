package parser

import (
	"github.com/alecthomas/participle/v2/lexer"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"pair", `a: "x"`, `Key:a Assign:: Value:"x"`},
		{"equals pair", `a = 1`, `Key:a Assign:= Value:1`},
		{"bare words", `g: hello world`, `Key:g Assign:: Value:hello world`},
		{"bare word before comment", "g: hello world   # c", `Key:g Assign:: Value:hello world`},
		{"number word", `size: 100MB`, `Key:size Assign:: Value:100MB`},
		{"range", `r: 8000-9000`, `Key:r Assign:: Value:8000-9000`},
		{"date is a word", `d: 2024-01-01`, `Key:d Assign:: Value:2024-01-01`},
		{"url is not a comment", `u: http://x/y // c`, `Key:u Assign:: Value:http://x/y`},
		{"hash in string", `c: "#fff" # c`, `Key:c Assign:: Value:"#fff"`},
		{"expression", `a: 1 + 2`, `Key:a Assign:: Scalar:1 BinOp:+ Scalar:2`},
		{"unary minus", `a: -1`, `Key:a Assign:: Prefix:- Scalar:1`},
		{"binary minus", `a: x - 1`, `Key:a Assign:: Scalar:x BinOp:- Scalar:1`},
		{"prefix run", `a: !!true`, `Key:a Assign:: Prefix:!! Scalar:true`},
		{"call", `a: @env("X", 1)`, `Key:a Assign:: Call:@env Punct:( Value:"X" Sep:, Value:1 Punct:)`},
		{"bare call", `a: env("X")`, `Key:a Assign:: Call:env Punct:( Value:"X" Punct:)`},
		{"block", "b {\n  a: 1\n}", "Key:b Open:{ Key:a Assign:: Value:1 Close:}"},
		{"angle block", "b >\n  a: 1\n<", "Key:b Open:> Key:a Assign:: Value:1 Close:<"},
		{"one-line block", `b { a: 1, c: x }`, "Key:b Open:{ Key:a Assign:: Value:1 Sep:, Key:c Assign:: Value:x Close:}"},
		{"array newlines", "a: [\n  1\n  2,\n]", "Key:a Assign:: Punct:[ Value:1 Sep:\n Value:2 Punct:]"},
		{"array without colon", `levels [debug, info]`, "Key:levels Punct:[ Value:debug Sep:, Value:info Punct:]"},
		{"section", `[a.b]`, "HeaderOpen:[ Key:a Punct:. Key:b Punct:]"},
		{"variable", `$v: 1`, "VarName:$v Assign:: Value:1"},
		{"include", `#include "x.tsk"`, `Include:#include Scalar:"x.tsk"`},
		{"directive comment", "#!api\n#version 1\na: 1", "Key:a Assign:: Value:1"},
		{"block comment", "/* a\nb */ a: 1", "Key:a Assign:: Value:1"},
		{"heredoc", "h: <<<EOT\nx\nEOT\n", "Key:h Assign:: Value:<<<EOT\nx\nEOT"},
		{"semicolons", `a: 1; b: 2;`, "Key:a Assign:: Value:1 Sep:; Key:b Assign:: Value:2"},
		{"quoted key", `"content-type": "json"`, `Key:"content-type" Assign:: Value:"json"`},
		{"separators collapse", "\n\na: 1\n\n\nb: 2\n\n", "Key:a Assign:: Value:1 Sep:\n Key:b Assign:: Value:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, diags := Lex("t.tsk", tt.src)
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			if got := strings.Join(toks[:len(toks)-1], " "); got != tt.want {
				t.Errorf("tokens\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestScalarKind(t *testing.T) {
	tests := map[string]Kind{
		`"a"`: KindString, `'a'`: KindRawString, `"""a"""`: KindMultiString, "<<<E\nx\nE": KindHeredoc,
		"$v": KindVar, "42": KindInt, "0xFF": KindInt, "1_000": KindInt, "3.5": KindFloat, "1e5": KindFloat,
		"1-2": KindRange, "host": KindIdent, "example.com": KindIdent, "true": KindIdent,
		"hello world": KindWord, "100MB": KindWord, "/usr": KindWord, "2024-01-01": KindWord,
	}
	for src, want := range tests {
		if got := ScalarKind(src); got != want {
			t.Errorf("ScalarKind(%q) = %d, want %d", src, got, want)
		}
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct {
		raw  string
		want string // interpolations shown as {path}
	}{
		{`"a\tb\n\"c\"\\ \u00e9 \$x"`, "a\tb\n\"c\"\\ é $x"},
		{`'raw \n ${x}'`, `raw \n ${x}`},
		{`"pre ${a.b} post $5 ${{.X}}"`, "pre {a.b} post $5 ${{.X}}"},
		{"\"\"\"\nline\n\"\"\"", "line\n"},
		{"<<<T\n  a\n    b\n  T", "a\n  b"},
		{"<<<'T'\n${x}\\n\nT", `${x}\n`},
		{"<<<T\n${x}\nT", "{x}"},
	}
	for _, tt := range tests {
		var b strings.Builder
		for _, p := range DecodeString(tt.raw) {
			if p.Path != "" {
				b.WriteString("{" + p.Path + "}")
			} else {
				b.WriteString(p.Text)
			}
		}
		if b.String() != tt.want {
			t.Errorf("DecodeString(%q) = %q, want %q", tt.raw, b.String(), tt.want)
		}
	}
}

// TestPositions checks that nodes report where they are.
func TestPositions(t *testing.T) {
	src := "[svc]\nusers {\n    routes: [\"/a\",\n        \"/b\"]\n    n: 1 + (2 * 3)\n}\n"
	f, diags := ParseString("p.tsk", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	at := func(p Pos) string { return strings.Join([]string{itoa(p.Line), itoa(p.Column)}, ":") }
	block := f.Items[1].Entry
	routes := block.Block.Items[0].Entry
	n := block.Block.Items[1].Entry
	checks := []struct {
		what      string
		got, want string
	}{
		{"section", at(f.Items[0].Pos()), "1:1"},
		{"section end", at(f.Items[0].End()), "1:6"},
		{"block entry", at(block.Pos()), "2:1"},
		{"block end", at(block.End()), "6:2"},
		{"array", at(routes.Value.Pos()), "3:13"},
		{"array end", at(routes.Value.End()), "4:14"},
		{"expr", at(n.Value.Pos()), "5:8"},
		{"operator", at(n.Value.Tail[0].Pos()), "5:10"},
		{"paren", at(n.Value.Tail[0].Right.Pos()), "5:12"},
		{"expr end", at(n.Value.End()), "5:19"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s at %s, want %s", c.what, c.got, c.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestErrorsCollected checks that one parse reports every bad statement,
// including the ones inside blocks, and keeps the good ones.
func TestErrorsCollected(t *testing.T) {
	src := "a: 1\nb {\n  c:\n  d: 2\n  e f\n}\ng:\nh: 3\n"
	f, diags := ParseString("e.tsk", src)
	want := []string{
		`e.tsk:3:5: unexpected end of line, expected a value`,
		`e.tsk:5:5: unexpected "f" after key "e": expected ":" or "=" and a value, or a block { ... }`,
		`e.tsk:7:3: unexpected end of line, expected a value`,
	}
	if got := diags.Error(); got != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(f.Items) != 2 {
		t.Errorf("kept %d statements, want the 2 good top-level ones", len(f.Items))
	}
}

// TestParallelParseMatchesSerial checks that cutting a large file into
// pieces gives the same tree as one piece.
func TestParallelParseMatchesSerial(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString("[s" + itoa(i) + "]\nblock {\n  a: 1 + 2\n  b: [\"x\", \"y\"]\n}\nc: \"v\"\n")
	}
	f, diags := ParseString("big.tsk", b.String())
	if len(diags) > 0 {
		t.Fatal(diags[0])
	}
	if want := strings.Count(b.String(), "[s"); countSections(f) != want {
		t.Errorf("sections = %d, want %d", countSections(f), want)
	}
}

func countSections(f *File) int {
	n := 0
	for _, it := range f.Items {
		if it.Section != nil {
			n++
		}
	}
	return n
}

// FuzzParse checks that no input makes the parser panic, that diagnostics
// always carry a position, and that the tree of a valid file is complete.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../shared/tsk-corpus/*.tsk")
	more, _ := filepath.Glob("../tsk/testdata/eval/*.tsk")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse("f.tsk", src)
		if file == nil {
			t.Fatal("nil tree")
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Column < 1 {
				t.Fatalf("diagnostic without position: %v", d)
			}
		}
		if len(diags) == 0 {
			for _, it := range file.Items {
				if it.Entry == nil && it.VarDef == nil && it.Section == nil && it.Include == nil {
					t.Fatalf("empty statement in a valid tree")
				}
			}
		}
	})
}

// TestFold checks that runs of simple entries fold into one token and
// unfold into the same entries.
func TestFold(t *testing.T) {
	src := "a: 1\nb: [\"x\", \"y\"]\nc: 1 + 2\nd: \"q\"; e: []\nf { g: 1, h: 2 }\n"
	s := newScanner("f.tsk", src, false)
	s.run()
	toks, parts := fold(normalize(s.toks))
	var types []string
	names := map[lexer.TokenType]string{}
	for k, v := range tokenSymbols() {
		names[v] = k
	}
	for _, tok := range toks {
		types = append(types, names[tok.Type])
	}
	want := "Pairs Sep Key Assign Scalar BinOp Scalar Sep Pairs Sep Key Open Pairs Close EOF"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("folded\n got %s\nwant %s", got, want)
	}
	if len(parts) != 3 {
		t.Errorf("%d runs, want 3", len(parts))
	}
	f, diags := ParseString("f.tsk", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var keys []string
	for _, it := range f.Items {
		keys = append(keys, it.Entry.Key.Value)
	}
	if got := strings.Join(keys, ","); got != "a,b,c,d,e,f" {
		t.Errorf("entries %s, want a,b,c,d,e,f", got)
	}
	if arr := f.Items[1].Entry.Value.Head.Array; arr == nil || len(arr.Items) != 2 || arr.Items[1].Simple.Value != `"y"` {
		t.Errorf("b's array did not unfold: %+v", f.Items[1].Entry.Value)
	}
	if g := f.Items[5].Entry.Block.Items; len(g) != 2 || g[1].Entry.Key.Value != "h" {
		t.Errorf("block entries did not unfold")
	}
}

// TestErrorsInLargeFile checks recovery in a file large enough to be lexed
// in several blocks and parsed in several pieces.
func TestErrorsInLargeFile(t *testing.T) {
	var b strings.Builder
	for i := range 15000 { // 4 lines each
		b.WriteString("s" + itoa(i) + " {\n  a: 1\n  b: [\"x\", \"y\"]\n}\n")
		switch i {
		case 4999: // after line 20000
			b.WriteString("broken {\n  c:\n}\n")
		case 9999: // after line 40003
			b.WriteString("use tonic::transport::Server;\n")
		}
	}
	f, diags := ParseString("big.tsk", b.String())
	want := "big.tsk:20003:1: unexpected \"}\", expected a value\n" +
		"big.tsk:40004:5: unexpected \"tonic\" after key \"use\": expected \":\" or \"=\" and a value, or a block { ... }"
	if got := diags.Error(); got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	if len(f.Items) != 15000 {
		t.Errorf("kept %d statements, want the 15000 good ones", len(f.Items))
	}
}
