package format

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/tuskcompose/composer/parser"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// corpusGlob names the shared read-only corpus of real TuskLang files.
const corpusGlob = "/work/shared/tsk-corpus/*.tsk"

// TestGolden formats every testdata/*.tsk file and compares the result with
// the .golden file next to it (go test -update rewrites them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.tsk")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, diags := Source(file, src)
			if diags != nil {
				t.Fatalf("diagnostics:\n%v", diags)
			}
			golden := strings.TrimSuffix(file, ".tsk") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n%s", golden, diffLines(string(want), string(got)))
			}
			checkFormatted(t, file, src, got)
		})
	}
}

// TestGoldenIdempotent formats every golden file: it must come back unchanged.
func TestGoldenIdempotent(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.golden")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got, diags := Source(file, src)
		if diags != nil {
			t.Errorf("%s: diagnostics:\n%v", file, diags)
			continue
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not in canonical form:\n%s", file, diffLines(string(src), string(got)))
		}
	}
}

// TestCorpus formats every corpus file that parses without diagnostics
// (files with syntax errors are the parser's tests' business).
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(corpusGlob)
	if len(files) == 0 {
		t.Fatal("no corpus at " + corpusGlob)
	}
	formatted := 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := parser.Parse(file, src); len(diags) > 0 {
			continue
		}
		got, diags := Source(file, src)
		if diags != nil {
			t.Errorf("%s: diagnostics:\n%v", file, diags)
			continue
		}
		checkFormatted(t, file, src, got)
		formatted++
	}
	if formatted == 0 {
		t.Error("no corpus file parsed")
	}
}

// checkFormatted checks the properties every formatted output has: it
// parses without diagnostics, to the same tree and comments as the source,
// it is its own canonical form, and it ends with exactly one newline.
func checkFormatted(t *testing.T, name string, src, out []byte) {
	t.Helper()
	f1, d1 := parser.Parse(name, src)
	f2, d2 := parser.Parse(name, out)
	if len(d1) > 0 {
		t.Fatalf("%s: source has diagnostics:\n%v", name, d1)
	}
	if len(d2) > 0 {
		t.Fatalf("%s: formatted output has diagnostics:\n%v\n--- output:\n%s", name, d2, out)
	}
	s1, _ := shape(f1)
	s2, verbatim := shape(f2)
	if s1 != s2 {
		t.Fatalf("%s: formatting changed the tree:\n%s\n--- output:\n%s", name, diffLines(s1, s2), out)
	}
	again, d3 := Source(name, out)
	if len(d3) > 0 {
		t.Fatalf("%s: formatting the output: %v", name, d3)
	}
	if !bytes.Equal(again, out) {
		t.Fatalf("%s: not idempotent:\n%s", name, diffLines(string(out), string(again)))
	}
	if len(out) > 0 && (!bytes.HasSuffix(out, []byte("\n")) || bytes.HasSuffix(out, []byte("\n\n"))) {
		t.Fatalf("%s: output does not end with exactly one newline: %q", name, out)
	}
	for i, line := range strings.Split(string(out), "\n") {
		if strings.TrimRight(line, " \t") != line && !verbatim[i+1] {
			t.Fatalf("%s: trailing blank on output line %d: %q", name, i+1, line)
		}
	}
}

// tableTests are inputs with their canonical form.
var tableTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"blank lines only", "\n\n\n", ""},
	{"comment only", "# hi", "# hi\n"},
	{"equals and semicolon", "a = 1;\n", "a: 1\n"},
	{"several newlines at end", "a: 1\n\n\n", "a: 1\n"},
	{"semicolon separated", "a: 1; b: 2\n", "a: 1\nb: 2\n"},
	{"var", "$x = 1\n", "$x: 1\n"},
	{"include", "#include   \"x.tsk\"\n", "#include \"x.tsk\"\n"},
	{"section blank line", "a: 1\n[s]\nb: 2\n", "a: 1\n\n[s]\nb: 2\n"},
	{"section at start", "[s]\nb: 2\n", "[s]\nb: 2\n"},
	{"section path", "[ a . b ]\n", "[a.b]\n"},
	{"section comment group", "a: 1\n# about s\n[s]\n", "a: 1\n\n# about s\n[s]\n"},
	{"section comment not attached", "a: 1\n# about a\n\n[s]\n", "a: 1\n# about a\n\n[s]\n"},
	{"one-line block", "users {kind: \"builtin\",routes: [\"/users\"]}\n", "users { kind: \"builtin\", routes: [\"/users\"] }\n"},
	{"multi-line block", "a {\nx: 1, y: 2\n}\n", "a {\n    x: 1\n    y: 2\n}\n"},
	{"block close on item line", "a {\n  x: 1 }\n", "a {\n    x: 1\n}\n"},
	{"empty block", "a {\n}\n", "a {}\n"},
	{"block with only a comment", "a {\n# c\n}\n", "a {\n    # c\n}\n"},
	{"inline block with only a comment", "a { /* c */ }\n", "a { /* c */ }\n"},
	{"angle block", "a >\nx: 1\n<\n", "a {\n    x: 1\n}\n"},
	{"object value", "a: {x: 1}\n", "a: { x: 1 }\n"},
	{"array", "a: [ 1 ,2 ]\n", "a: [1, 2]\n"},
	{"multi-line array", "a: [1,\n2]\n", "a: [\n    1,\n    2,\n]\n"},
	{"entry array", "a [1, 2]\n", "a [1, 2]\n"},
	{"hug object argument", "a: @f({\nx: 1\n})\n", "a: @f({\n    x: 1\n})\n"},
	{"multi-line arguments", "a: @f(1,\n2)\n", "a: @f(\n    1,\n    2,\n)\n"},
	{"binary", "a: 1+2*3\n", "a: 1 + 2 * 3\n"},
	{"ternary", "a: x?\"y\":2\n", "a: x ? \"y\" : 2\n"},
	{"prefix", "a: ! x\n", "a: !x\n"},
	{"minus minus", "a: 1--2\n", "a: 1 - -2\n"},
	{"paren", "a: ( 1+2 )*3\n", "a: (1 + 2) * 3\n"},
	{"chain", "a: @Q(\"u\") .where( x ).count()\n", "a: @Q(\"u\").where(x).count()\n"},
	{"chain after a bare name", "a: @DEBUG .on .level(2)\n", "a: @DEBUG .on .level(2)\n"},
	{"trailing comment", "a: 1 # c\n", "a: 1  # c\n"},
	{"trailing block comment", "a: 1 /* c */\n", "a: 1  /* c */\n"},
	{"comment before value", "a: /* c */ 1\n", "a: /* c */ 1\n"},
	{"comment before colon", "a /* c */ : 1\n", "a: /* c */ 1\n"},
	{"blank lines collapse", "a: 1\n\n\n\nb: 2\n", "a: 1\n\nb: 2\n"},
	{"no blank after brace", "a {\n\n x: 1\n\n}\n", "a {\n    x: 1\n}\n"},
	{"blank line after comment", "a: 1\n# c\n\nb: 2\n", "a: 1\n# c\n\nb: 2\n"},
	{"bare word trailing blanks", "a: hello world  \t\n", "a: hello world\n"},
	{"word like a comment", "a=#fff\nb:/* c */#x\nc: [#x,\n 1,//y]\nd: [1,#z]\ne: /* c */#x\n", "a:#fff\nb:/* c */#x\nc: [#x,\n    1,//y,\n]\nd: [1,#z]\ne: /* c */#x\n"},
	{"crlf", "a: 1\r\nb {\r\n  c: x y\r\n}\r\n", "a: 1\nb {\n    c: x y\n}\n"},
	{"heredoc verbatim", "a {\n  q: <<<X\n  keep\n    this\n  X\n}\n", "a {\n    q: <<<X\n  keep\n    this\n  X\n}\n"},
	{"multi string verbatim", "a: \"\"\"\n x\n\"\"\"\n", "a: \"\"\"\n x\n\"\"\"\n"},
}

func TestTable(t *testing.T) {
	for _, tt := range tableTests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Source("test.tsk", []byte(tt.in))
			if diags != nil {
				t.Fatalf("diagnostics:\n%v", diags)
			}
			if string(got) != tt.want {
				t.Errorf("Source(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
			checkFormatted(t, "test.tsk", []byte(tt.in), got)
		})
	}
}

// TestEdgeCases checks the properties of checkFormatted on inputs that
// put comments and line breaks in unusual places.
func TestEdgeCases(t *testing.T) {
	for _, in := range edgeCases {
		if _, diags := parser.Parse("edge.tsk", []byte(in)); len(diags) > 0 {
			t.Errorf("%q no longer parses (update the edge cases): %v", in, diags)
			continue
		}
		out, diags := Source("edge.tsk", []byte(in))
		if diags != nil {
			t.Errorf("%q: %v", in, diags)
			continue
		}
		t.Run("", func(t *testing.T) { checkFormatted(t, "edge.tsk", []byte(in), out) })
	}
}

// edgeCases put comments and line breaks in unusual places.
var edgeCases = []string{
	"q: <<<X # c\nfoo\nX\n",
	"[a /* c */ . /* d */ b /* e */ ] /* f */\nx: 1\n",
	"/* c */ [a]\n",
	"x: 1\n/* c */ [a]\n",
	"x: @f /* c */ (1)\n",
	"k /* c */ {\n a: 1\n}\n",
	"k /* c */ [1]\n",
	"x: @a(1) /* c */ .b(2) /* d */ .c\n",
	"x: [1, /* a\n b */ 2]\n",
	"x: [1 /* a\n b */, 2]\n",
	"x: { a: 1 /* c\n */ }\n",
	"x { a: [\n1] }\n",
	"x: [\n1, 2 /* c */,\n]\n",
	"#include \"a.tsk\" # why\n#include /* c */ \"b.tsk\"\n",
	"x: - /* c */ 1\n",
	"x: ! /* c */ (a)\n",
	"x: /* c */ (a) /* d */ + /* e */ b /* f */ ? /* g */ c /* h */ : /* i */ d\n",
	"x: a ? {\n b: 1\n} : [\n2\n]\n",
	"a >\n b >\n  c: d\n <\n f: g\n<\n",
	"a > /* c */ x: 1, <\n",
	"a > # c\n<\n",
	"a {  # c\n}\n",
	"a { /* c */\n}\n",
	"a { x: 1 } # c\n# d\n\n\n# e\nb: 2",
	"\n\n# only\n\n\n/* comments */\n\n",
	"$x: 1 # c\n$y: $x + 1;\n",
	"a: [{\n x: 1\n}, {\n y: 2\n}] # c\n",
	"a: @f(<<<X\nbody\nX, 1)\n",
	"a: [<<<X\nbody\nX, \"\"\"\nmulti\n\"\"\"]\n",
	"a = b\n\n\n[s] # c\n\n\n# d\n[t]\n",
	"a: x,y\nb: a} b]\n",
	"a { b: x y, c: z }\n",
	"a: 1;;; b: 2;\n",
	"a: (1)\nb: ((1 + 2) * -(3))\n",
	"k: v\r\n# c\r\n/* d\r\n */\r\n",
}

// TestVariableObjectEntries: the simple entries inside a $variable's value
// are formatted like any others (the parser once left them folded).
func TestVariableObjectEntries(t *testing.T) {
	for _, in := range []string{
		"$x: { a: 1, b: 2 }\n",
		"$x: [{ a: 1 }]\n",
		"$x: @f({ a: 1 })\n",
		"$x: { a { b: 1 } }\n",
	} {
		out, diags := Source("var.tsk", []byte(in))
		if diags != nil {
			t.Fatalf("%q: %v", in, diags)
		}
		if string(out) != in {
			t.Errorf("Source(%q) = %q", in, out)
		}
		checkFormatted(t, "var.tsk", []byte(in), out)
	}
}

func TestSyntaxError(t *testing.T) {
	src := "a: 1\nuse tonic::transport::Server;\nb {\n"
	got, diags := Source("bad.tsk", []byte(src))
	if got != nil {
		t.Errorf("output for a file with syntax errors: %q", got)
	}
	if len(diags) == 0 {
		t.Fatal("no diagnostics for a file with syntax errors")
	}
	_, want := parser.Parse("bad.tsk", []byte(src))
	if diags.Error() != want.Error() {
		t.Errorf("diagnostics differ from the parser's:\n got: %v\nwant: %v", diags, want)
	}
	if !strings.HasPrefix(diags[0].Error(), "bad.tsk:2:") {
		t.Errorf("first diagnostic = %q, want it at bad.tsk:2", diags[0].Error())
	}
}

// FuzzFormat checks, for every input that parses without diagnostics, that
// formatting does not panic, that the output parses without diagnostics to
// the same tree and comments, and that formatting is idempotent.
func FuzzFormat(f *testing.F) {
	for _, glob := range []string{"testdata/*.tsk", corpusGlob} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	for _, tt := range tableTests {
		f.Add([]byte(tt.in))
	}
	for _, in := range edgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, diags := parser.Parse("fuzz.tsk", src); len(diags) > 0 {
			return
		}
		out, diags := Source("fuzz.tsk", src)
		if diags != nil {
			t.Fatalf("diagnostics for a source that parses:\n%v", diags)
		}
		checkFormatted(t, "fuzz.tsk", src, out)
	})
}

func BenchmarkSource(b *testing.B) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "# service %d\n[svc%d]\nkind = \"http\"  # kind\ninstances: [\"http://127.0.0.1:%d\", \"b\"]\n", i, i, 7000+i)
		fmt.Fprintf(&sb, "health {\n  interval: \"5s\"\n  path: /health\n  checks: [\n    1,\n    2\n  ]\n}\nweight: %d.5 * 2 + @env(\"W\", 1)\n\n", i)
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Source("bench.tsk", src); diags != nil {
			b.Fatal(diags)
		}
	}
}

// shape renders a tree without positions, with the differences formatting
// is allowed to make normalised away (angle or brace block, a lone scalar
// as a Simple value or as a Primary), followed by the comments in order. verbatim holds the lines of
// multi-line scalars and comments, whose text is printed as written.
func shape(f *parser.File) (tree string, verbatim map[int]bool) {
	s := &shaper{verbatim: map[int]bool{}}
	s.items(f.Items)
	for _, c := range f.Comments {
		fmt.Fprintf(&s.b, "\n%s", c.Text)
		s.lines(c.Pos.Line, c.End.Line)
	}
	return s.b.String(), s.verbatim
}

type shaper struct {
	b        strings.Builder
	verbatim map[int]bool
}

func (s *shaper) lines(from, to int) {
	for l := from; l <= to && from < to; l++ {
		s.verbatim[l] = true
	}
}

func (s *shaper) scalar(t lexer.Token) {
	s.printf("scalar(%s)", scalarText(t))
	s.lines(t.Pos.Line, t.Pos.Line+strings.Count(t.Value, "\n"))
}

func (s *shaper) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *shaper) items(items []*parser.Item) {
	for _, it := range items {
		switch {
		case it.Entry != nil:
			e := it.Entry
			s.printf("entry %s ", e.Key.Value)
			switch {
			case e.Value != nil:
				s.printf("= ")
				s.expr(e.Value)
			case e.Block != nil:
				s.block(e.Block)
			case e.Array != nil:
				s.array(e.Array.Items)
			}
		case it.VarDef != nil:
			s.printf("var %s = ", it.VarDef.Name.Value)
			s.expr(it.VarDef.Value)
		case it.Section != nil:
			s.printf("section")
			for _, k := range it.Section.Path {
				s.printf(" %s", k.Key.Value)
			}
		case it.Include != nil:
			s.printf("include %s", it.Include.Path.Value)
		default:
			s.printf("EMPTY ITEM")
		}
		s.printf("\n")
	}
}

func (s *shaper) block(b *parser.Block) {
	s.printf("{\n")
	s.items(b.Items)
	s.printf("}")
}

func (s *shaper) array(xs []*parser.Expr) {
	s.printf("[")
	for i, x := range xs {
		if i > 0 {
			s.printf(", ")
		}
		s.expr(x)
	}
	s.printf("]")
}

func (s *shaper) expr(x *parser.Expr) {
	if x.Head == nil {
		s.scalar(x.Simple)
		return
	}
	if p := x.Head; len(x.Tail) == 0 && x.Then == nil && p.Prefix.Type == 0 && p.Scalar.Type != 0 {
		s.scalar(p.Scalar) // the same as a Simple value
		return
	}
	s.printf("(")
	s.primary(x.Head)
	for _, op := range x.Tail {
		s.printf(" %s ", op.Op.Value)
		s.primary(op.Right)
	}
	if x.Then != nil {
		s.printf(" ? ")
		s.expr(x.Then)
		s.printf(" : ")
		s.expr(x.Else)
	}
	s.printf(")")
}

func (s *shaper) primary(p *parser.Primary) {
	s.printf("%s", p.Prefix.Value)
	switch {
	case p.Scalar.Type != 0:
		s.scalar(p.Scalar)
	case p.Call != nil:
		s.printf("call %s", p.Call.Name.Value)
		if p.Call.Args != nil {
			s.array(p.Call.Args.Items)
		}
		for _, l := range p.Call.Chain {
			s.printf(".%s", l.Name.Value)
			if l.Args != nil {
				s.array(l.Args.Items)
			}
		}
	case p.Array != nil:
		s.array(p.Array.Items)
	case p.Object != nil:
		s.block(p.Object)
	case p.Paren != nil:
		s.printf("paren")
		s.expr(p.Paren)
	}
}

// diffLines shows the first differing line of want and got, with context.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			lo := max(0, i-3)
			return fmt.Sprintf("first difference at line %d\n--- want:\n%s\n--- got:\n%s",
				i+1, strings.Join(w[lo:min(len(w), i+4)], "\n"), strings.Join(g[lo:min(len(g), i+4)], "\n"))
		}
	}
	return "(no difference)"
}
