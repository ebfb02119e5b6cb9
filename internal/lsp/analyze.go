package lsp

import (
	"os"
	"path/filepath"
	"regexp"
	"time"

	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/tsk"
)

// platformHeader tells a platform file: one with [composer] or [services].
var platformHeader = regexp.MustCompile(`(?m)^[ \t]*\[(composer|services)\][ \t]*(?:#.*)?\r?$`)

// isPlatform reports whether a document's text is a platform file.
func isPlatform(s string) bool { return platformHeader.MatchString(s) }

// loader reads open documents from the editor and other files from disk.
func (s *Server) loader() *tsk.Loader {
	return &tsk.Loader{LookupEnv: s.LookupEnv, Cache: s.cache, ReadFile: func(path string) ([]byte, error) {
		s.mu.Lock()
		d := s.docs[filepath.Clean(path)]
		s.mu.Unlock()
		if d != nil {
			return []byte(d.text.s), nil
		}
		return os.ReadFile(path)
	}}
}

// diagnose returns the problems of the document at path, by file: what
// `tsk check` reports for any file and, for a platform file, what
// `composer validate` reports (the schema, validation and warnings), and
// the files it was built from (whose old diagnostics a new analysis
// replaces).
func (s *Server) diagnose(path, src string) (map[string]tsk.Diagnostics, []string) {
	l := s.loader()
	var diags tsk.Diagnostics
	var files []string
	if isPlatform(src) {
		r, doc, err := composer.LoadResolved(l, path)
		diags = tsk.AsDiagnostics(err, path)
		if err == nil {
			diags = composer.Warnings(r)
		}
		files = doc.Files
	} else {
		doc, err := l.LoadBytes(path, []byte(src))
		diags = tsk.AsDiagnostics(err, path)
		files = doc.Files
	}
	byFile := map[string]tsk.Diagnostics{}
	for _, d := range diags {
		f := d.Pos.Filename
		if f == "" {
			f = path
		}
		byFile[filepath.Clean(f)] = append(byFile[filepath.Clean(f)], d)
	}
	return byFile, files
}

// schedule analyses d after the debounce, unless it changes again
// meanwhile. Callers hold no lock.
func (s *Server) schedule(d *document) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.gen++
	gen := d.gen
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timer = time.AfterFunc(s.Debounce, func() { s.publish(d, gen) })
}

// publish analyses d, as of its change gen, and sends the diagnostics of
// every file it is built from (an empty list clears a file's), unless d
// changed meanwhile (a newer analysis will).
func (s *Server) publish(d *document, gen int) {
	s.mu.Lock()
	src, current := d.text.s, d.gen == gen
	s.mu.Unlock()
	if !current {
		return
	}
	byFile, files := s.diagnose(d.path, src)
	s.mu.Lock()
	current, version, notify := d.gen == gen, protocol.UInteger(d.version), s.notify
	s.mu.Unlock()
	if !current {
		return
	}
	seen := map[string]bool{}
	for _, f := range append([]string{d.path}, files...) {
		f = filepath.Clean(f)
		if seen[f] {
			continue
		}
		seen[f] = true
		t := s.textOf(f)
		out := []protocol.Diagnostic{}
		for _, diag := range byFile[f] {
			out = append(out, toProtocol(t, diag))
		}
		params := protocol.PublishDiagnosticsParams{URI: uriOf(f), Diagnostics: out}
		if f == d.path {
			params.Version = &version
		}
		notify(protocol.ServerTextDocumentPublishDiagnostics, params)
	}
}

// textOf is a file's text: the editor's when it is open.
func (s *Server) textOf(path string) *text {
	s.mu.Lock()
	d := s.docs[filepath.Clean(path)]
	s.mu.Unlock()
	if d != nil {
		return d.text
	}
	b, _ := os.ReadFile(path)
	return newTextIn(string(b), s.encoding)
}

// toProtocol is a diagnostic as the editor shows it: its range from the
// diagnostic's start and end (a word's length when it has no end).
func toProtocol(t *text, d tsk.Diagnostic) protocol.Diagnostic {
	severity, source := protocol.DiagnosticSeverityError, "tsk"
	if d.Severity == tsk.Warning {
		severity = protocol.DiagnosticSeverityWarning
	}
	off := t.at(d.Pos)
	end := off
	if e := t.at(d.End); d.End.Line > 0 && e > off {
		end = e
	} else if off < len(t.s) {
		w, start := wordAt(t.s, off)
		end = max(start+len(w), off+1)
		for end < len(t.s) && t.s[end-1] >= 0x80 && t.s[end]&0xC0 == 0x80 {
			end++ // not in the middle of a character
		}
	}
	return protocol.Diagnostic{Range: t.rangeOf(off, min(end, len(t.s))), Severity: &severity, Source: &source, Message: d.Msg}
}
