package lsp

import (
	"fmt"
	"strings"

	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/composer"
)

func (s *Server) hover(_ *glsp.Context, p *protocol.HoverParams) (*protocol.Hover, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	t, o := s.current(d)
	off := t.offset(p.Position)
	md, start, end := hoverAt(t, o, off)
	if md == "" {
		return nil, nil
	}
	r := t.rangeOf(start, end)
	return &protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: md}, Range: &r}, nil
}

// hoverAt is what hovering at off shows: a key's reference (meaning,
// type, default), a section's, or a variable's definition.
func hoverAt(t *text, o *outline, off int) (md string, start, end int) {
	src := t.s
	word, start := wordAt(src, off)
	if word == "" {
		return "", 0, 0
	}
	end = start + len(word)
	if start > 0 && src[start-1] == '$' {
		for _, v := range o.vars {
			if v.value == word && v.off < start {
				line := strings.TrimSpace(src[lineStartOf(src, v.off):lineEndOf(src, v.off)])
				return fmt.Sprintf("variable `$%s`, defined on line %d:\n```tsk\n%s\n```", word, t.position(v.off).Line+1, line), start, end
			}
		}
		return "", 0, 0
	}
	if !isPlatform(src) {
		return "", 0, 0
	}
	for _, sec := range o.sections {
		if sec.off < start && start < sec.end && len(sec.path) == 1 {
			return sectionDoc(sec.path[0]), start, end
		}
	}
	// A key: followed by ':', '=', '{' or '>'.
	if k := skipSpaces(src, end); k >= len(src) || !strings.ContainsRune(":={>", rune(src[k])) {
		return "", 0, 0
	}
	path := o.pathAt(start)
	full := docPath(path, word)
	section, doc, ok := composer.LookupDoc(full)
	f := schemaAt(append(path, word))
	if !ok && f == nil {
		return "", 0, 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", word)
	if f != nil {
		fmt.Fprintf(&b, " (%s", typeName(f))
		if doc.Default != "" && doc.Default != "none" {
			fmt.Fprintf(&b, ", default %s", doc.Default)
		}
		b.WriteString(")")
		if len(f.Values) > 0 {
			fmt.Fprintf(&b, ": one of `%s`", strings.Join(f.Values, "`, `"))
		}
	}
	if ok {
		fmt.Fprintf(&b, "\n\n%s\n\n`[%s]` %s", doc.Doc, section, doc.Key)
		if doc.Kinds != "" {
			fmt.Fprintf(&b, " (kinds: %s)", doc.Kinds)
		}
	}
	return b.String(), start, end
}

func lineEndOf(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(s)
}
