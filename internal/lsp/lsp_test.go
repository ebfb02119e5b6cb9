package lsp

import (
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	protocol "github.com/tliron/glsp/protocol_3_16"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// editor is the client side of a session, as an editor drives it:
// requests and notifications over JSON-RPC, and the diagnostics the
// server publishes.
type editor struct {
	t     *testing.T
	conn  *jsonrpc2.Conn
	dir   string
	diags chan protocol.PublishDiagnosticsParams
	init  map[string]any
}

func newEditor(t *testing.T) *editor { return newEditorWith(t, map[string]any{}) }

// newEditorWith starts a session whose client has these capabilities.
func newEditorWith(t *testing.T, caps map[string]any) *editor {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"platform.tsk", "more.tsk"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	server, client := net.Pipe()
	s := New()
	s.LookupEnv = func(string) (string, bool) { return "", false }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go s.Serve(ctx, server)
	e := &editor{t: t, dir: dir, diags: make(chan protocol.PublishDiagnosticsParams, 64)}
	e.conn = jsonrpc2.NewConn(ctx, jsonrpc2.NewBufferedStream(client, jsonrpc2.VSCodeObjectCodec{}),
		jsonrpc2.HandlerWithError(func(_ context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
			if req.Method == protocol.ServerTextDocumentPublishDiagnostics {
				var p protocol.PublishDiagnosticsParams
				json.Unmarshal(*req.Params, &p)
				e.diags <- p
			}
			return nil, nil
		}))
	t.Cleanup(func() { e.conn.Close() })
	var init map[string]any
	e.call("initialize", map[string]any{"processId": nil, "rootUri": uriOf(dir), "capabilities": caps}, &init)
	e.init = init
	if caps, _ := init["capabilities"].(map[string]any); caps["hoverProvider"] != true || caps["renameProvider"] != true {
		t.Fatalf("capabilities: %v", init)
	}
	e.notify("initialized", map[string]any{})
	return e
}

func (e *editor) call(method string, params, result any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.conn.Call(ctx, method, params, result); err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
}

func (e *editor) notify(method string, params any) {
	e.t.Helper()
	if err := e.conn.Notify(context.Background(), method, params); err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
}

func (e *editor) uri(name string) string { return uriOf(filepath.Join(e.dir, name)) }

// open opens a file of the test directory with its text on disk (or
// text, when given).
func (e *editor) open(name, text string) {
	if text == "" {
		b, _ := os.ReadFile(filepath.Join(e.dir, name))
		text = string(b)
	}
	e.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": e.uri(name), "languageId": "tusk", "version": 1, "text": text}})
}

// diagnostics waits for the diagnostics of a file.
func (e *editor) diagnostics(name string) []protocol.Diagnostic {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-e.diags:
			if p.URI == e.uri(name) {
				return p.Diagnostics
			}
		case <-deadline:
			e.t.Fatalf("no diagnostics for %s", name)
		}
	}
}

func at(line, char int) map[string]any { return map[string]any{"line": line, "character": char} }

func (e *editor) pos(name string, line, char int) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": e.uri(name)}, "position": at(line, char)}
}

// golden compares v, as indented JSON with the test directory written
// $DIR, with testdata/NAME.golden.
func (e *editor) golden(name string, v any) {
	e.t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	got := strings.ReplaceAll(string(b), uriOf(e.dir), "file://$DIR") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, _ := os.ReadFile(path)
	if got != string(want) {
		e.t.Errorf("%s differs (go test ./internal/lsp -update):\n%s", path, got)
	}
}

// TestSession drives a session as an editor does: open, change,
// completion, hover, definition, references, symbols, formatting and
// rename, each answer against its golden file.
func TestSession(t *testing.T) {
	e := newEditor(t)
	e.open("platform.tsk", "")
	diags := e.diagnostics("platform.tsk")
	if len(diags) != 1 || !strings.Contains(diags[0].Message, `did you mean "failure_threshold"?`) || diags[0].Range.Start.Line != 15 {
		t.Fatalf("diagnostics of the misspelt key: %+v", diags)
	}
	e.golden("diagnostics", diags)

	// The fix, as the editor sends it: one range replaced.
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 2},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(15, 8), "end": at(15, 16)}, "text": "threshold"}}})
	if diags := e.diagnostics("platform.tsk"); len(diags) != 0 {
		t.Fatalf("after the fix: %+v", diags)
	}

	var items []protocol.CompletionItem
	labels := func() []string {
		var out []string
		for _, it := range items {
			out = append(out, it.Label)
		}
		return out
	}
	// Keys inside [circuit_breaker], at the start of a new line.
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 3},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(16, 0), "end": at(16, 0)}, "text": "\n"}}})
	e.diagnostics("platform.tsk")
	e.call("textDocument/completion", e.pos("platform.tsk", 16, 0), &items)
	e.golden("completion-circuit-breaker", items)
	if !strings.Contains(strings.Join(labels(), " "), "failure_threshold") {
		t.Errorf("no failure_threshold among %v", labels())
	}
	// A service's keys, inside its one-line block (orders { ..., |).
	e.call("textDocument/completion", e.pos("platform.tsk", 11, 47), &items)
	if got := strings.Join(labels(), " "); !strings.Contains(got, "load_balancer") || !strings.Contains(got, "timeout") {
		t.Errorf("a service's keys: %v", got)
	}
	// Services in a calls list; enumeration values; sections; variables.
	e.call("textDocument/completion", e.pos("platform.tsk", 11, 59), &items)
	if got := labels(); strings.Join(got, " ") != "users orders notifications" {
		t.Errorf("services in calls: %v", got)
	}
	e.call("textDocument/completion", e.pos("platform.tsk", 10, 15), &items)
	if got := strings.Join(labels(), " "); got != "builtin http process" {
		t.Errorf("kind's values: %v", got)
	}
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 4},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(16, 0), "end": at(16, 0)}, "text": "x: $"}}})
	e.diagnostics("platform.tsk")
	e.call("textDocument/completion", e.pos("platform.tsk", 16, 4), &items)
	if got := strings.Join(labels(), " "); got != "port" {
		t.Errorf("variables: %v", got)
	}
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 5},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(16, 0), "end": at(16, 4)}, "text": "["}}})
	e.diagnostics("platform.tsk")
	e.call("textDocument/completion", e.pos("platform.tsk", 16, 1), &items)
	if got := strings.Join(labels(), " "); !strings.Contains(got, "health_checks") || !strings.Contains(got, "event_routes") {
		t.Errorf("sections: %v", got)
	}
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 6},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(16, 0), "end": at(16, 1)}, "text": ""}}})
	e.diagnostics("platform.tsk")

	var hover protocol.Hover
	e.call("textDocument/hover", e.pos("platform.tsk", 15, 3), &hover)
	e.golden("hover-failure-threshold", hover)
	e.call("textDocument/hover", e.pos("platform.tsk", 6, 2), &hover)
	if md := hover.Contents.(protocol.MarkupContent).Value; !strings.Contains(md, "the gateway's address") || !strings.Contains(md, "127.0.0.1:8080") {
		t.Errorf("hover on listen: %s", md)
	}

	var loc protocol.Location
	e.call("textDocument/definition", e.pos("platform.tsk", 11, 58), &loc) // calls: ["users"]
	e.golden("definition-users", loc)
	e.call("textDocument/definition", e.pos("platform.tsk", 6, 24), &loc) // ${port}
	if loc.Range.Start.Line != 1 {
		t.Errorf("definition of $port: %+v", loc)
	}
	e.call("textDocument/definition", e.pos("platform.tsk", 2, 12), &loc) // #include "more.tsk"
	if loc.URI != e.uri("more.tsk") {
		t.Errorf("definition of the include: %+v", loc)
	}

	var refs []protocol.Location
	e.call("textDocument/references", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk")}, "position": at(10, 1),
		"context": map[string]any{"includeDeclaration": true}}, &refs)
	e.golden("references-users", refs)

	var symbols []protocol.DocumentSymbol
	e.call("textDocument/documentSymbol", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk")}}, &symbols)
	e.golden("symbols", symbols)

	// Formatting: `tsk fmt` of the editor's text (here made untidy).
	e.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk"), "version": 7},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": at(5, 5), "end": at(5, 6)}, "text": ""}}})
	e.diagnostics("platform.tsk")
	var edits []protocol.TextEdit
	e.call("textDocument/formatting", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk")}, "options": map[string]any{"tabSize": 2, "insertSpaces": true}}, &edits)
	e.golden("formatting", edits)
	if len(edits) != 1 || !strings.Contains(edits[0].NewText, "name: \"shop\"\n") {
		t.Errorf("formatting: %+v", edits)
	}

	var rename protocol.WorkspaceEdit
	e.call("textDocument/rename", map[string]any{"textDocument": map[string]any{"uri": e.uri("platform.tsk")}, "position": at(10, 1), "newName": "accounts"}, &rename)
	e.golden("rename-users", rename)
	if len(rename.Changes[e.uri("more.tsk")]) != 1 || len(rename.Changes[e.uri("platform.tsk")]) != 3 {
		t.Errorf("rename users: %+v", rename.Changes)
	}
}

// TestIncludedFileFromTheEditor: an included file that is open is read
// from the editor's text, not from disk.
func TestIncludedFileFromTheEditor(t *testing.T) {
	e := newEditor(t)
	e.open("more.tsk", "[health_checks]\nintervl: \"5s\"\n")
	e.diagnostics("more.tsk")
	e.open("platform.tsk", "")
	var found bool
	for i := 0; i < 3 && !found; i++ {
		select {
		case p := <-e.diags:
			if p.URI == e.uri("more.tsk") && len(p.Diagnostics) > 0 && strings.Contains(p.Diagnostics[0].Message, "interval") {
				found = true
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no diagnostics for the included file")
		}
	}
	if !found {
		t.Error("the included file's problem, as the editor has it, was not reported")
	}
}

// TestPositionEncodings: a client that offers UTF-8 positions gets them
// (LSP 3.17), one that offers none gets UTF-16: the same diagnostic,
// after an é on its line, is one character further in UTF-8.
func TestPositionEncodings(t *testing.T) {
	const src = "[composer]\ntls { cert_file: \"\u00e9\", kee_file: \"x\" }\n"
	for _, tc := range []struct {
		caps map[string]any
		enc  string
		char int
	}{
		{map[string]any{}, "utf-16", 22},
		{map[string]any{"general": map[string]any{"positionEncodings": []string{"utf-16", "utf-8"}}}, "utf-8", 23},
	} {
		e := newEditorWith(t, tc.caps)
		if enc := e.init["capabilities"].(map[string]any)["positionEncoding"]; enc != tc.enc {
			t.Fatalf("encoding %v, want %s", enc, tc.enc)
		}
		e.open("platform.tsk", src)
		diags := e.diagnostics("platform.tsk")
		if len(diags) != 1 || diags[0].Range.Start.Line != 1 || int(diags[0].Range.Start.Character) != tc.char {
			t.Errorf("%s: diagnostics %+v, want one at 1:%d", tc.enc, diags, tc.char)
		}
	}
}
