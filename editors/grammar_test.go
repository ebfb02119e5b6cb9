// Package editors holds what editors need for TuskLang: the TextMate
// grammar (vscode/syntaxes/tusk.tmLanguage.json), the VS Code extension
// that starts `tsk lsp`, and (in docs/editors.md) the set-up of Neovim
// and Helix. Its test runs the grammar over every corpus file.
package editors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rule is a TextMate grammar rule: a match, a begin/end pair, or an
// include; patterns are a begin/end's (or a repository entry's) rules.
type rule struct {
	Name          string          `json:"name"`
	ContentName   string          `json:"contentName"`
	Match         string          `json:"match"`
	Begin         string          `json:"begin"`
	End           string          `json:"end"`
	Include       string          `json:"include"`
	Captures      map[string]cap_ `json:"captures"`
	BeginCaptures map[string]cap_ `json:"beginCaptures"`
	EndCaptures   map[string]cap_ `json:"endCaptures"`
	Patterns      []*rule         `json:"patterns"`

	match, begin *regexp.Regexp
}

type cap_ struct {
	Name string `json:"name"`
}

type grammar struct {
	ScopeName  string           `json:"scopeName"`
	Patterns   []*rule          `json:"patterns"`
	Repository map[string]*rule `json:"repository"`
}

// compile turns the grammar's regular expressions into Go's (the grammar
// keeps to what RE2 and Oniguruma both read: no look-around).
func (g *grammar) compile(t *testing.T, rs []*rule) {
	for _, r := range rs {
		var err error
		if r.Match != "" {
			if r.match, err = regexp.Compile(r.Match); err != nil {
				t.Fatalf("match %q: %v", r.Match, err)
			}
		}
		if r.Begin != "" {
			if r.begin, err = regexp.Compile(r.Begin); err != nil {
				t.Fatalf("begin %q: %v", r.Begin, err)
			}
		}
		g.compile(t, r.Patterns)
	}
}

// expand replaces includes with the repository's rules.
func (g *grammar) expand(rs []*rule) []*rule {
	var out []*rule
	for _, r := range rs {
		if strings.HasPrefix(r.Include, "#") {
			rep := g.Repository[r.Include[1:]]
			if rep.Match != "" || rep.Begin != "" {
				out = append(out, rep)
			}
			out = append(out, g.expand(rep.Patterns)...)
			continue
		}
		out = append(out, r)
	}
	return out
}

// token is a span of a line with its scopes.
type token struct {
	text   string
	scopes []string
}

// frame is an open begin/end rule, with its end compiled for the
// captures of its begin (\2 is what the begin's group 2 matched).
type frame struct {
	r   *rule
	end *regexp.Regexp
}

// tokenize runs the grammar over src line by line, as TextMate engines
// do: at each point, the earliest match among the context's rules and
// the open rule's end (the end first when they tie).
func (g *grammar) tokenize(src string) [][]token {
	var stack []frame
	var lines [][]token
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSuffix(line, "\r")
		var toks []token
		scopes := func() []string {
			out := []string{g.ScopeName}
			for _, f := range stack {
				if f.r.Name != "" {
					out = append(out, f.r.Name)
				}
				if f.r.ContentName != "" {
					out = append(out, f.r.ContentName)
				}
			}
			return out
		}
		emit := func(text string, extra ...string) {
			if text != "" {
				toks = append(toks, token{text, append(scopes(), extra...)})
			}
		}
		pos := 0
		for pos <= len(line) {
			rules := g.expand(g.Patterns)
			var end *regexp.Regexp
			if len(stack) > 0 {
				rules, end = g.expand(stack[len(stack)-1].r.Patterns), stack[len(stack)-1].end
			}
			best, bestLoc := (*rule)(nil), []int(nil)
			isEnd := false
			try := func(re *regexp.Regexp) []int {
				loc := re.FindStringSubmatchIndex(line[pos:])
				if loc == nil {
					return nil
				}
				if strings.HasPrefix(re.String(), "^") && pos > 0 {
					return nil // anchored at the line's start
				}
				for i := range loc {
					if loc[i] >= 0 {
						loc[i] += pos
					}
				}
				return loc
			}
			if end != nil {
				if loc := try(end); loc != nil {
					bestLoc, isEnd = loc, true
				}
			}
			for _, r := range rules {
				re := r.match
				if re == nil {
					re = r.begin
				}
				if re == nil {
					continue
				}
				if loc := try(re); loc != nil && (bestLoc == nil || loc[0] < bestLoc[0]) && loc[1] > loc[0] {
					best, bestLoc, isEnd = r, loc, false
				}
			}
			if bestLoc == nil {
				emit(line[pos:])
				break
			}
			emit(line[pos:bestLoc[0]])
			captured := func(caps map[string]cap_, name string) {
				// The match's text, with its groups' scopes.
				at := bestLoc[0]
				for i := 1; 2*i < len(bestLoc); i++ {
					s, e := bestLoc[2*i], bestLoc[2*i+1]
					c, ok := caps[strconv.Itoa(i)]
					if s < at || !ok {
						continue
					}
					emit(line[at:s], name)
					emit(line[s:e], name, c.Name)
					at = e
				}
				emit(line[at:bestLoc[1]], name)
			}
			switch {
			case isEnd:
				f := stack[len(stack)-1]
				captured(f.r.EndCaptures, "")
				stack = stack[:len(stack)-1]
			case best.begin != nil:
				endSrc := regexp.MustCompile(`\\(\d)`).ReplaceAllStringFunc(best.End, func(ref string) string {
					n, _ := strconv.Atoi(ref[1:])
					if 2*n+1 < len(bestLoc) && bestLoc[2*n] >= 0 {
						return regexp.QuoteMeta(line[bestLoc[2*n]:bestLoc[2*n+1]])
					}
					return ""
				})
				captured(best.BeginCaptures, best.Name)
				stack = append(stack, frame{best, regexp.MustCompile(endSrc)})
			default:
				captured(best.Captures, best.Name)
			}
			if bestLoc[1] == pos && !isEnd {
				break
			}
			pos = bestLoc[1]
			if pos == len(line) {
				break
			}
		}
		lines = append(lines, toks)
	}
	return lines
}

func load(t *testing.T) *grammar {
	t.Helper()
	b, err := os.ReadFile("vscode/syntaxes/tusk.tmLanguage.json")
	if err != nil {
		t.Fatal(err)
	}
	var g grammar
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	g.compile(t, g.Patterns)
	for _, r := range g.Repository {
		g.compile(t, []*rule{r})
	}
	return &g
}

// TestGrammarColoursTheCorpus: every token of every corpus file, and of
// the repository's platform files, gets a scope of its own, and none is
// left invalid.
func TestGrammarColoursTheCorpus(t *testing.T) {
	g := load(t)
	files, _ := filepath.Glob("../../shared/tsk-corpus/*.tsk")
	more, _ := filepath.Glob("../examples/*/platform.tsk")
	files = append(append(files, more...), "../platform.tsk")
	if len(files) < 20 {
		t.Fatalf("only %d files", len(files))
	}
	for _, f := range files {
		src, _ := os.ReadFile(f)
		for n, line := range g.tokenize(string(src)) {
			for _, tok := range line {
				last := tok.scopes[len(tok.scopes)-1]
				switch {
				case strings.HasPrefix(last, "invalid"):
					t.Errorf("%s:%d: %q is %s", f, n+1, tok.text, last)
				case last == g.ScopeName && strings.TrimSpace(tok.text) != "":
					t.Errorf("%s:%d: %q has no colour", f, n+1, tok.text)
				}
			}
		}
	}
}

// TestGrammarScopes: what a few lines come out as.
func TestGrammarScopes(t *testing.T) {
	g := load(t)
	scopeOf := func(src, text string) string {
		for _, line := range g.tokenize(src) {
			for _, tok := range line {
				if tok.text == text {
					return tok.scopes[len(tok.scopes)-1]
				}
			}
		}
		return "not found"
	}
	for _, tc := range []struct{ src, text, want string }{
		{"[services]\n", "services", "entity.name.section.tusk"},
		{"users { kind: \"builtin\" }\n", "users", "entity.name.tag.key.tusk"},
		{"users { kind: \"builtin\" }\n", "builtin", "string.quoted.double.tusk"},
		{"port: @env(\"PORT\", 8080)\n", "@env", "support.function.operator.tusk"},
		{"port: @env(\"PORT\", 8080)\n", "8080", "constant.numeric.tusk"},
		{"$region: \"eu\"\n", "$region", "variable.other.definition.tusk"},
		{"a: 1 # note\n", "# note", "comment.line.tusk"},
		{"#include \"more.tsk\"\n", "#include", "keyword.control.directive.include.tusk"},
		{"q: <<<SQL\nSELECT 1\nSQL\n", "SELECT 1", "string.unquoted.heredoc.tusk"},
		{"url: \"http://x/${host}\"\n", "${host}", "variable.other.interpolation.tusk"},
		{"ok: true\n", "true", "constant.language.tusk"},
	} {
		if got := scopeOf(tc.src, tc.text); got != tc.want {
			t.Errorf("%q in %q: %s, want %s", tc.text, tc.src, got, tc.want)
		}
	}
}

// TestExtensionManifest: the VS Code extension names the grammar and the
// language as they are.
func TestExtensionManifest(t *testing.T) {
	var m struct {
		Main        string `json:"main"`
		Contributes struct {
			Languages []struct {
				ID            string   `json:"id"`
				Extensions    []string `json:"extensions"`
				Configuration string   `json:"configuration"`
			} `json:"languages"`
			Grammars []struct {
				Language, ScopeName, Path string
			} `json:"grammars"`
		} `json:"contributes"`
	}
	b, err := os.ReadFile("vscode/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	g := load(t)
	if len(m.Contributes.Grammars) != 1 || m.Contributes.Grammars[0].ScopeName != g.ScopeName || m.Contributes.Languages[0].Extensions[0] != ".tsk" {
		t.Errorf("manifest: %+v", m.Contributes)
	}
	for _, f := range []string{m.Main, m.Contributes.Grammars[0].Path, m.Contributes.Languages[0].Configuration} {
		if _, err := os.Stat(filepath.Join("vscode", f)); err != nil {
			t.Error(err)
		}
	}
	var conf map[string]any
	if b, _ := os.ReadFile("vscode/language-configuration.json"); json.Unmarshal(b, &conf) != nil {
		t.Error("language-configuration.json is not JSON")
	}
}
