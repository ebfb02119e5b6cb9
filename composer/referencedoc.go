package composer

import (
	"strings"
	"sync"
	"unicode"
)

// Reference documents the keys of the platform file (see
// referenceTables): the tables, then the seed's switches.
var Reference = append(referenceTables, switchSections()...)

// honoured are the switches the composer obeys, with what false does.
var honoured = map[string]string{
	"microservices_configuration.enable_circuit_breaker":     "`false` turns the circuit breakers off",
	"microservices_configuration.enable_distributed_tracing": "`false` turns tracing off (on, it also needs `otlp_endpoint` or the `OTEL_*` variables)",
	"microservices_configuration.enable_metrics":             "`false` turns the metrics (`/metrics`) off",
}

// switchSections are the references of the seed's switch sections, from
// the rules validation warns with (switchRules) and the honoured ones.
func switchSections() []SectionDoc {
	var out []SectionDoc
	section := func(name string) *SectionDoc {
		for i := range out {
			if out[i].Name == name {
				return &out[i]
			}
		}
		out = append(out, SectionDoc{Name: name, Columns: []string{"key", "default", "meaning"}})
		return &out[len(out)-1]
	}
	for _, r := range switchRules {
		name, key, _ := strings.Cut(r.path, ".")
		s := section(name)
		s.Keys = append(s.Keys, KeyDoc{Key: "`" + key + "`", Default: "`true`",
			Doc: "the seed's switch; " + r.what + ", so `false` is warned about"})
		if name == "microservices_architecture" && key == "event_driven" {
			s.Keys = append(s.Keys, KeyDoc{Key: "`distributed_tracing`", Default: "as `enable_distributed_tracing`",
				Doc: "the seed's switch; tracing follows `[microservices_configuration] enable_distributed_tracing`, so a value that disagrees with it is warned about"})
		}
		if name == "microservices_configuration" && key == "enable_service_mesh" {
			for _, k := range []string{"enable_circuit_breaker", "enable_distributed_tracing", "enable_metrics"} {
				s.Keys = append(s.Keys, KeyDoc{Key: "`" + k + "`", Default: "`true`", Doc: honoured[name+"."+k]})
			}
		}
	}
	return out
}

// SectionDoc is the reference of one section: its table's columns (key,
// and some of kinds, default, meaning) and its rows.
type SectionDoc struct {
	Name    string
	Columns []string
	Keys    []KeyDoc
}

// KeyDoc is one row of a section's reference (Markdown in every field).
type KeyDoc struct {
	Key     string // the first cell: "`timeout`", "`tls { cert_file, key_file }`"
	Kinds   string // [services] and [auth]: the kinds the key applies to
	Default string
	Doc     string
}

// Paths are the keys a row documents, dotted from its section:
// "`tls { cert_file, key_file }`" documents tls, tls.cert_file and
// tls.key_file. Words in capitals (NAME, VALUE) are placeholders.
func (k KeyDoc) Paths() []string {
	var out, stack []string
	last := ""
	cell := strings.ReplaceAll(k.Key, "`", " ")
	for i := 0; i < len(cell); {
		c := rune(cell[i])
		switch {
		case c == '_' || unicode.IsLetter(c):
			j := i
			for j < len(cell) && (cell[j] == '_' || unicode.IsLetter(rune(cell[j])) || unicode.IsDigit(rune(cell[j]))) {
				j++
			}
			word := cell[i:j]
			i = j
			if strings.ToUpper(word) == word {
				continue // NAME
			}
			last = strings.Join(append(append([]string{}, stack...), word), ".")
			out = append(out, last)
		case c == '{':
			stack = strings.Split(last, ".")
			i++
		case c == '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		default:
			i++
		}
	}
	return out
}

// ReferenceTable renders a section's reference as the Markdown table of
// docs/platform.md ("" when there is no such section).
func ReferenceTable(section string) string {
	for _, s := range Reference {
		if s.Name != section {
			continue
		}
		var b strings.Builder
		b.WriteString("| " + strings.Join(s.Columns, " | ") + " |\n|")
		for range s.Columns {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, k := range s.Keys {
			cells := []string{}
			for _, c := range s.Columns {
				switch c {
				case "key":
					cells = append(cells, k.Key)
				case "kinds":
					cells = append(cells, k.Kinds)
				case "default":
					cells = append(cells, k.Default)
				case "meaning":
					cells = append(cells, k.Doc)
				}
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		return strings.ReplaceAll(b.String(), "|  |", "| |")
	}
	return ""
}

// LookupDoc returns the reference of the key at path, dotted from its
// section ("composer.tls.cert_file", "services.users.timeout",
// "circuit_breaker.users.recovery_timeout"): the row of the key itself,
// or of the nearest block that holds it. A service, policy, route or
// per-target block's own name may stand anywhere a name is (it is looked
// up as the section's key, and as "*").
func LookupDoc(path string) (section string, doc KeyDoc, ok bool) {
	parts := strings.Split(path, ".")
	if len(parts) < 2 {
		return "", KeyDoc{}, false
	}
	s, rows := referenceIndex()[parts[0]].section, referenceIndex()[parts[0]].rows
	if s == nil {
		return "", KeyDoc{}, false
	}
	// The key as written, then without the block's name in second place
	// (a service's, a target's), each from the longest path down.
	for _, rest := range [][]string{parts[1:], parts[2:]} {
		for n := len(rest); n > 0; n-- {
			if k, found := rows[strings.Join(rest[:n], ".")]; found && (n == len(rest) || strings.Contains(k.Key, "{")) {
				return s.Name, k, true
			}
		}
	}
	return "", KeyDoc{}, false
}

// sectionIndex is a section's reference with its rows by the paths they
// document (the first row that documents a path has it).
type sectionIndex struct {
	section *SectionDoc
	rows    map[string]KeyDoc
}

// referenceIndex is Reference indexed by section, made once.
var referenceIndex = sync.OnceValue(func() map[string]sectionIndex {
	out := map[string]sectionIndex{}
	for i := range Reference {
		s := &Reference[i]
		rows := map[string]KeyDoc{}
		for _, k := range s.Keys {
			for _, p := range k.Paths() {
				if _, seen := rows[p]; !seen {
					rows[p] = k
				}
			}
		}
		out[s.Name] = sectionIndex{s, rows}
	}
	return out
})
