package lsp

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/composer"
)

// operators are the @ operators the evaluator knows, with one line each.
var operators = []struct{ name, insert, doc string }{
	{"env", `env("NAME")`, "`@env(\"NAME\")` or `@env(\"NAME\", default)`: an environment variable's text, or the default (which keeps its type)"},
	{"date", `date("Y-m-d")`, "`@date(\"Y-m-d\")`: the date and time, PHP format letters"},
}

// serviceKeys are the keys whose values name services.
var serviceKeys = []string{"calls", "depends_on", "to"}

var (
	sectionPrefix = regexp.MustCompile(`^\s*\[([A-Za-z0-9_.]*)$`)
	valuePrefix   = regexp.MustCompile(`([A-Za-z0-9_-]+)\s*[:=]\s*"?([A-Za-z0-9_.:-]*)$`)
	keyPrefix     = regexp.MustCompile(`(?:^|[{,])\s*([A-Za-z0-9_-]*)$`)
)

// schemaAt is the schema field at a path of keys ("" names too).
func schemaAt(path []string) *composer.Field {
	f := composer.Schema
	for _, p := range path {
		if f = f.Child(p); f == nil {
			return nil
		}
	}
	return f
}

// docPath is a dotted path for composer.LookupDoc.
func docPath(path []string, key string) string {
	return strings.Join(append(slices.Clone(path), key), ".")
}

func (s *Server) completion(_ *glsp.Context, p *protocol.CompletionParams) (any, error) {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return nil, nil
	}
	t, o := s.current(d)
	off := t.offset(p.Position)
	return complete(t.s, o, off), nil
}

// complete lists what may be written at off.
func complete(src string, o *outline, off int) []protocol.CompletionItem {
	before := lineBefore(src, off)
	platform := isPlatform(src)
	path := o.pathAt(off)
	frames := o.framesAt(off)
	inList := len(frames) > 0 && o.frames[frames[len(frames)-1]].kind == '['
	items := []protocol.CompletionItem{}
	prefix := strings.TrimSuffix(before, trailingWord(before))
	switch {
	case strings.HasSuffix(prefix, "$") || strings.HasSuffix(prefix, "${"):
		return variables(o, off)
	case strings.HasSuffix(prefix, "@"):
		for _, op := range operators {
			items = append(items, item(op.name, protocol.CompletionItemKindFunction, "operator", op.doc, op.insert))
		}
		return items
	}
	if !platform {
		return items
	}
	// A header being written: at top level, or in the bracket it opened.
	ls := lineStartOf(src, off)
	header := len(frames) == 0 || len(frames) == 1 && o.frames[frames[0]].kind == '[' &&
		o.frames[frames[0]].open >= ls && strings.TrimSpace(src[ls:o.frames[frames[0]].open]) == ""
	if m := sectionPrefix.FindStringSubmatch(before); m != nil && header {
		for _, f := range composer.Schema.Fields {
			items = append(items, item(f.Key, protocol.CompletionItemKindModule, "section", sectionDoc(f.Key), ""))
		}
		return items
	}
	if inList && !header {
		key := o.frames[frames[len(frames)-1]].key
		if slices.Contains(serviceKeys, key) {
			return serviceItems(o)
		}
		return items
	}
	if m := valuePrefix.FindStringSubmatch(before); m != nil {
		key := m[1]
		full := docPath(path, key)
		for pattern, values := range composer.Enumerations {
			if match(pattern, full) {
				for _, v := range values {
					items = append(items, item(v, protocol.CompletionItemKindEnumMember, key, "", ""))
				}
			}
		}
		if key == "to" || key == "calls" || key == "depends_on" {
			items = append(items, serviceItems(o)...)
		}
		return items
	}
	if keyPrefix.MatchString(before) {
		f := schemaAt(path)
		if f == nil {
			return items
		}
		for _, c := range f.Fields {
			_, doc, _ := composer.LookupDoc(docPath(path, c.Key))
			detail := typeName(c)
			if doc.Default != "" {
				detail += ", default " + strings.ReplaceAll(doc.Default, "`", "")
			}
			kind := protocol.CompletionItemKindProperty
			if c.Type == "object" || c.Type == "blocks" {
				kind = protocol.CompletionItemKindStruct
			}
			items = append(items, item(c.Key, kind, detail, firstSentence(doc.Doc), ""))
		}
	}
	return items
}

// match reports whether a dotted path matches a pattern with "*" for
// one name.
func match(pattern, path string) bool {
	pp, ps := strings.Split(pattern, "."), strings.Split(path, ".")
	if len(pp) != len(ps) {
		return false
	}
	for i := range pp {
		if pp[i] != "*" && pp[i] != ps[i] {
			return false
		}
	}
	return true
}

func trailingWord(s string) string {
	i := len(s)
	for i > 0 && isWordByte(s[i-1]) && s[i-1] != '.' {
		i--
	}
	return s[i:]
}

func item(label string, kind protocol.CompletionItemKind, detail, doc, insert string) protocol.CompletionItem {
	it := protocol.CompletionItem{Label: label, Kind: &kind}
	if detail != "" {
		it.Detail = &detail
	}
	if doc != "" {
		it.Documentation = protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: doc}
	}
	if insert != "" {
		it.InsertText = &insert
	}
	return it
}

// serviceItems are the services the document declares.
func serviceItems(o *outline) []protocol.CompletionItem {
	items := []protocol.CompletionItem{}
	for _, svc := range services(o) {
		items = append(items, item(svc.value, protocol.CompletionItemKindReference, "service", "", ""))
	}
	return items
}

// services are the blocks of the [services] section (their names).
func services(o *outline) []name {
	var out []name
	for i, f := range o.frames {
		if f.parent < 0 && f.section >= 0 && f.keyOff >= 0 && (f.kind == '{' || f.kind == '>') &&
			slices.Equal(o.sections[f.section].path, []string{"services"}) {
			out = append(out, name{value: f.key, off: f.keyOff, end: f.keyOff + len(f.key), frame: i})
		}
	}
	return out
}

// variables are the $variables defined before off.
func variables(o *outline, off int) []protocol.CompletionItem {
	items := []protocol.CompletionItem{}
	seen := map[string]bool{}
	for _, v := range o.vars {
		if v.off < off && !seen[v.value] {
			seen[v.value] = true
			items = append(items, item(v.value, protocol.CompletionItemKindVariable, "variable", "", ""))
		}
	}
	return items
}

// sectionDoc is a section's one line: the intro of its reference.
func sectionDoc(name string) string {
	for _, s := range composer.Reference {
		if s.Name == name {
			return fmt.Sprintf("`[%s]`: %d keys (docs/platform.md)", name, len(s.Keys))
		}
	}
	return fmt.Sprintf("`[%s]`", name)
}

// firstSentence is a doc's first sentence (completion lists are short).
func firstSentence(doc string) string {
	if i := strings.Index(doc, ". "); i > 0 {
		return doc[:i+1]
	}
	return doc
}

// typeName is a field's type as the editor shows it.
func typeName(f *composer.Field) string {
	switch f.Type {
	case "seed_count":
		return "integer (or true: the seed's default)"
	case "seed_duration":
		return "duration (or true: the seed's default)"
	case "list":
		if f.Items != nil && f.Items.Type != "object" {
			return "list of " + typeName(f.Items)
		}
		return "list of objects"
	case "blocks":
		return "named blocks"
	}
	return f.Type
}
