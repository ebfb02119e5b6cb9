package lsp

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/parser/format"
)

// file is a document or a file it includes, with its outline.
type file struct {
	path string
	text *text
	o    *outline
}

// family is a document and the files it includes (transitively, each once).
func (s *Server) family(d *document) []file {
	t, o := s.current(d)
	out := []file{{d.path, t, o}}
	seen := map[string]bool{d.path: true}
	for i := 0; i < len(out) && i < 64; i++ {
		for _, inc := range out[i].o.includes {
			p := filepath.Clean(filepath.Join(filepath.Dir(out[i].path), inc.path))
			if seen[p] {
				continue
			}
			seen[p] = true
			t := s.textOf(p)
			out = append(out, file{p, t, scan(t.s)})
		}
	}
	return out
}

// target is what a position names: a variable, an included file or a
// service (empty when nothing).
type target struct {
	variable, include, service string
}

func targetAt(f file, off int) target {
	for _, inc := range f.o.includes {
		if inc.off <= off && off <= inc.end {
			return target{include: filepath.Join(filepath.Dir(f.path), inc.path)}
		}
	}
	for _, v := range append(slices.Clone(f.o.varUses), f.o.vars...) {
		if v.off <= off && off <= v.end {
			return target{variable: v.value}
		}
	}
	for _, svc := range services(f.o) {
		if svc.off <= off && off <= svc.end {
			return target{service: svc.value}
		}
	}
	for _, n := range f.o.names {
		if n.off <= off && off <= n.end && slices.Contains(serviceKeys, n.key) {
			return target{service: serviceOf(n.value)}
		}
	}
	for _, fr := range f.o.frames {
		if fr.parent < 0 && fr.keyOff >= 0 && fr.keyOff <= off && off <= fr.keyOff+len(fr.key) && perTarget(f.o, fr) {
			return target{service: fr.key}
		}
	}
	return target{}
}

// serviceOf is the service an event route's target names ("billing/x"
// is billing; a URL names none).
func serviceOf(v string) string {
	if strings.Contains(v, "://") {
		return ""
	}
	svc, _, _ := strings.Cut(v, "/")
	return svc
}

// perTarget reports whether a top-level block is a per-service block of
// [health_checks] or [circuit_breaker] (named after a service).
func perTarget(o *outline, fr frame) bool {
	if fr.section < 0 || fr.kind != '{' && fr.kind != '>' {
		return false
	}
	p := o.sections[fr.section].path
	return len(p) == 1 && (p[0] == "health_checks" || p[0] == "circuit_breaker") && fr.key != "outlier_detection"
}

func (s *Server) definition(_ *glsp.Context, p *protocol.DefinitionParams) (any, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	fam := s.family(d)
	tg := targetAt(fam[0], fam[0].text.offset(p.Position))
	switch {
	case tg.include != "":
		return protocol.Location{URI: uriOf(tg.include)}, nil
	case tg.variable != "":
		for _, f := range fam {
			for _, v := range f.o.vars {
				if v.value == tg.variable {
					return protocol.Location{URI: uriOf(f.path), Range: f.text.rangeOf(v.off, v.end)}, nil
				}
			}
		}
	case tg.service != "":
		for _, f := range fam {
			for _, svc := range services(f.o) {
				if svc.value == tg.service {
					return protocol.Location{URI: uriOf(f.path), Range: f.text.rangeOf(svc.off, svc.end)}, nil
				}
			}
		}
	}
	return nil, nil
}

// occurrence is where a service's name is written.
type occurrence struct {
	f        file
	off, end int
	decl     bool
}

// occurrences of a service in a document and its includes: its block in
// [services], the per-service blocks, and every calls, depends_on and
// event route target naming it.
func occurrences(fam []file, service string) []occurrence {
	var out []occurrence
	for _, f := range fam {
		for _, svc := range services(f.o) {
			if svc.value == service {
				out = append(out, occurrence{f, svc.off, svc.end, true})
			}
		}
		for _, fr := range f.o.frames {
			if fr.parent < 0 && fr.keyOff >= 0 && fr.key == service && perTarget(f.o, fr) {
				out = append(out, occurrence{f, fr.keyOff, fr.keyOff + len(fr.key), false})
			}
		}
		for _, n := range f.o.names {
			if slices.Contains(serviceKeys, n.key) && serviceOf(n.value) == service {
				out = append(out, occurrence{f, n.off, n.off + len(service), false})
			}
		}
	}
	return out
}

func (s *Server) references(_ *glsp.Context, p *protocol.ReferenceParams) ([]protocol.Location, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	fam := s.family(d)
	tg := targetAt(fam[0], fam[0].text.offset(p.Position))
	if tg.service == "" {
		return nil, nil
	}
	out := []protocol.Location{}
	for _, oc := range occurrences(fam, tg.service) {
		if oc.decl && !p.Context.IncludeDeclaration {
			continue
		}
		out = append(out, protocol.Location{URI: uriOf(oc.f.path), Range: oc.f.text.rangeOf(oc.off, oc.end)})
	}
	return out, nil
}

func (s *Server) rename(_ *glsp.Context, p *protocol.RenameParams) (*protocol.WorkspaceEdit, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	fam := s.family(d)
	tg := targetAt(fam[0], fam[0].text.offset(p.Position))
	if tg.service == "" {
		return nil, nil
	}
	for i := 0; i < len(p.NewName); i++ {
		if !isWordByte(p.NewName[i]) || p.NewName[i] == '.' {
			return nil, &renameError{p.NewName}
		}
	}
	edits := map[protocol.DocumentUri][]protocol.TextEdit{}
	for _, oc := range occurrences(fam, tg.service) {
		uri := uriOf(oc.f.path)
		edits[uri] = append(edits[uri], protocol.TextEdit{Range: oc.f.text.rangeOf(oc.off, oc.end), NewText: p.NewName})
	}
	return &protocol.WorkspaceEdit{Changes: edits}, nil
}

type renameError struct{ name string }

func (e *renameError) Error() string {
	return "a service's name is letters, digits, '_' and '-': not " + e.name
}

func (s *Server) symbols(_ *glsp.Context, p *protocol.DocumentSymbolParams) (any, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	t, o := s.current(d)
	return symbolsOf(t, o), nil
}

// symbolsOf are the sections, each with its top-level blocks (services,
// event routes, policies, per-service blocks).
func symbolsOf(t *text, o *outline) []protocol.DocumentSymbol {
	out := []protocol.DocumentSymbol{}
	for i, sec := range o.sections {
		end := len(t.s)
		if i+1 < len(o.sections) {
			end = o.sections[i+1].off
		}
		name := strings.Join(sec.path, ".")
		sym := protocol.DocumentSymbol{Name: "[" + name + "]", Kind: protocol.SymbolKindNamespace,
			Range: t.rangeOf(sec.off, end), SelectionRange: t.rangeOf(sec.off, sec.end), Children: []protocol.DocumentSymbol{}}
		for _, fr := range o.frames {
			if fr.section != i || fr.parent >= 0 || fr.keyOff < 0 || (fr.kind != '{' && fr.kind != '>') {
				continue
			}
			kind := protocol.SymbolKindObject
			switch name {
			case "services":
				kind = protocol.SymbolKindClass
			case "event_routes":
				kind = protocol.SymbolKindEvent
			}
			close := fr.close
			if close < 0 {
				close = end - 1
			}
			sym.Children = append(sym.Children, protocol.DocumentSymbol{Name: fr.key, Kind: kind,
				Range: t.rangeOf(fr.keyOff, close+1), SelectionRange: t.rangeOf(fr.keyOff, fr.keyOff+len(fr.key))})
		}
		out = append(out, sym)
	}
	return out
}

// formatting is `tsk fmt` of the document; nothing when it does not
// parse (the diagnostics say why).
func (s *Server) formatting(_ *glsp.Context, p *protocol.DocumentFormattingParams) ([]protocol.TextEdit, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	s.mu.Lock()
	t := d.text
	s.mu.Unlock()
	out, errs := format.Source(d.path, []byte(t.s))
	if len(errs) > 0 || string(out) == t.s {
		return []protocol.TextEdit{}, nil
	}
	return []protocol.TextEdit{{Range: t.rangeOf(0, len(t.s)), NewText: string(out)}}, nil
}
