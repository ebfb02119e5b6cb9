// Package lsp is `tsk lsp`: a Language Server Protocol server for
// TuskLang files, over a stream (standard input and output). Every .tsk
// file gets syntax and evaluation diagnostics, variables, includes,
// symbols and formatting; a platform file (one with a [composer] or
// [services] section) also gets the platform's schema: its diagnostics,
// completion of sections, keys and values, hover from composer.Reference
// (the descriptions docs/platform.md is rendered from), and the services
// as names to go to, find and rename.
//
// The protocol types and the handler dispatch are tliron/glsp's (LSP
// 3.16), the JSON-RPC connection sourcegraph/jsonrpc2's. Positions count
// UTF-16 code units, the protocol's default. Documents are analysed from
// the editor's text: a file the editor has open is read from there, also
// when another file includes it.
package lsp

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/tsk"
)

// Server is one editor's session. Its handlers run one at a time, in the
// order the editor sent them (jsonrpc2 delivers them so); mu guards the
// documents against the analysis of included files read meanwhile.
type Server struct {
	mu   sync.Mutex
	docs map[string]*document // by path
	// LookupEnv is the environment of @env (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Debounce is how long after a change the document is analysed (a
	// burst of keystrokes is analysed once); analyses run beside the
	// requests, so completion and hover never wait for one.
	Debounce time.Duration
	handler  protocol.Handler
	// encoding is the session's position encoding (initialize sets it).
	encoding string
	// cache keeps the last parse of every file analysed, so that an
	// analysis after a change parses only the statements that changed.
	cache *tsk.Cache
	// notify sends a notification to the editor (set by Serve; guarded
	// by mu).
	notify func(method string, params any)
}

// document is an open document.
type document struct {
	uri, path string
	version   protocol.Integer
	text      *text
	// outline is text's, made when a request first needs it (an
	// analysis does not): nil until then. Guarded by Server.mu.
	outline *outline
	// gen counts the changes; timer is the analysis waiting to run.
	// Both guarded by Server.mu.
	gen   int
	timer *time.Timer
}

// set replaces the document's text. Callers hold Server.mu.
func (d *document) set(s, enc string) {
	d.text = newTextIn(s, enc)
	d.outline = nil
}

// current returns the document's text and its outline, made now if no
// request needed it since the last change. Callers hold no lock.
func (s *Server) current(d *document) (*text, *outline) {
	s.mu.Lock()
	t, o := d.text, d.outline
	s.mu.Unlock()
	if o != nil {
		return t, o
	}
	o = scan(t.s)
	s.mu.Lock()
	if d.text == t {
		d.outline = o
	}
	s.mu.Unlock()
	return t, o
}

// New returns a server.
func New() *Server {
	s := &Server{docs: map[string]*document{}, LookupEnv: os.LookupEnv, Debounce: 30 * time.Millisecond, encoding: utf16, cache: tsk.NewCache(),
		notify: func(string, any) {}}
	s.handler = protocol.Handler{
		Initialize: s.initialize,
		Initialized: func(*glsp.Context, *protocol.InitializedParams) error {
			return nil
		},
		Shutdown: func(*glsp.Context) error { return nil }, // the editor's exit that follows ends the session
		SetTrace: func(*glsp.Context, *protocol.SetTraceParams) error { return nil },
		TextDocumentDidOpen: func(_ *glsp.Context, p *protocol.DidOpenTextDocumentParams) error {
			d := &document{uri: p.TextDocument.URI, path: pathOf(p.TextDocument.URI), version: p.TextDocument.Version}
			d.set(p.TextDocument.Text, s.encoding)
			s.mu.Lock()
			s.docs[d.path] = d
			s.mu.Unlock()
			s.schedule(d)
			return nil
		},
		TextDocumentDidChange: func(_ *glsp.Context, p *protocol.DidChangeTextDocumentParams) error {
			d := s.doc(p.TextDocument.URI)
			if d == nil {
				return nil
			}
			s.mu.Lock()
			cur := d.text.s
			for _, c := range p.ContentChanges {
				switch c := c.(type) {
				case protocol.TextDocumentContentChangeEvent:
					cur = newTextIn(cur, s.encoding).apply(*c.Range, c.Text)
				case protocol.TextDocumentContentChangeEventWhole:
					cur = c.Text
				}
			}
			d.set(cur, s.encoding)
			d.version = p.TextDocument.Version
			s.mu.Unlock()
			s.schedule(d)
			return nil
		},
		TextDocumentDidClose: func(_ *glsp.Context, p *protocol.DidCloseTextDocumentParams) error {
			s.mu.Lock()
			if d := s.docs[pathOf(p.TextDocument.URI)]; d != nil && d.timer != nil {
				d.timer.Stop()
			}
			delete(s.docs, pathOf(p.TextDocument.URI))
			s.mu.Unlock()
			return nil
		},
		TextDocumentCompletion:     s.completion,
		TextDocumentHover:          s.hover,
		TextDocumentDefinition:     s.definition,
		TextDocumentReferences:     s.references,
		TextDocumentDocumentSymbol: s.symbols,
		TextDocumentFormatting:     s.formatting,
		TextDocumentRename:         s.rename,
	}
	return s
}

func (s *Server) doc(uri string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[pathOf(uri)]
}

func (s *Server) initialize(ctx *glsp.Context, p *protocol.InitializeParams) (any, error) {
	caps := s.handler.CreateServerCapabilities()
	caps.CompletionProvider = &protocol.CompletionOptions{TriggerCharacters: []string{"[", "$", "@", "\"", " "}}
	caps.RenameProvider = true
	// LSP 3.17's position encodings (glsp's types are 3.16's): UTF-8 when
	// the client offers it (it costs nothing to count), else UTF-32, else
	// the default UTF-16.
	var offered struct {
		Capabilities struct {
			General struct {
				PositionEncodings []string `json:"positionEncodings"`
			} `json:"general"`
		} `json:"capabilities"`
	}
	json.Unmarshal(ctx.Params, &offered)
	enc := utf16
	for _, want := range []string{utf8e, utf32} {
		if slices.Contains(offered.Capabilities.General.PositionEncodings, want) && enc == utf16 {
			enc = want
		}
	}
	s.mu.Lock()
	s.encoding = enc
	s.mu.Unlock()
	var result map[string]any
	b, _ := json.Marshal(protocol.InitializeResult{Capabilities: caps, ServerInfo: &protocol.InitializeResultServerInfo{Name: "tsk lsp", Version: &serverVersion}})
	json.Unmarshal(b, &result)
	result["capabilities"].(map[string]any)["positionEncoding"] = enc
	return result, nil
}

var serverVersion = "1"

// Serve runs the server on a stream until the editor exits or ctx ends.
func (s *Server) Serve(ctx context.Context, stream io.ReadWriteCloser) error {
	conn := jsonrpc2.NewConn(ctx, jsonrpc2.NewBufferedStream(stream, jsonrpc2.VSCodeObjectCodec{}), jsonrpc2.HandlerWithError(s.handle))
	s.mu.Lock()
	s.notify = func(method string, params any) { conn.Notify(context.Background(), method, params) }
	s.mu.Unlock()
	select {
	case <-conn.DisconnectNotify():
	case <-ctx.Done():
		conn.Close()
	}
	return nil
}

// handle is one request or notification, through glsp's dispatch.
func (s *Server) handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
	gc := glsp.Context{Method: req.Method,
		Notify: func(method string, params any) { conn.Notify(ctx, method, params) },
		Call:   func(method string, params, result any) { conn.Call(ctx, method, params, result) },
	}
	if req.Params != nil {
		gc.Params = *req.Params
	}
	if req.Method == "exit" {
		return nil, conn.Close()
	}
	r, validMethod, validParams, err := s.handler.Handle(&gc)
	switch {
	case !validMethod:
		if req.Notif {
			return nil, nil // a notification the server does not know is ignored
		}
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "method not supported: " + req.Method}
	case !validParams:
		msg := "invalid params"
		if err != nil {
			msg = err.Error()
		}
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: msg}
	case err != nil:
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInternalError, Message: err.Error()}
	}
	return r, nil
}

// stdio is standard input and output as one stream.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return nil }

// ServeStdio serves the editor that started the process.
func (s *Server) ServeStdio(ctx context.Context) error { return s.Serve(ctx, stdio{}) }
