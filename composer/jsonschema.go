package composer

import (
	"encoding/json"
	"strings"
)

// durationPattern is a Go duration as platform files write them.
const durationPattern = `^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`

// JSONSchema is a JSON Schema (draft 2020-12) of the platform file as
// `tsk json` prints it, made from Schema and the descriptions of
// Reference: for tools that read JSON Schemas (`composer schema`).
func JSONSchema() []byte {
	root := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/tuskcompose/composer/platform.schema.json",
		"title":       "Tusk Composer platform file",
		"description": "A platform.tsk as `tsk json` prints it: its sections and keys (docs/platform.md).",
	}
	for k, v := range schemaOf(Schema, nil) {
		root[k] = v
	}
	out, _ := json.MarshalIndent(root, "", "  ")
	return append(out, '\n')
}

func schemaOf(f *Field, path []string) map[string]any {
	s := map[string]any{}
	switch f.Type {
	case "string", "integer", "number", "boolean":
		s["type"] = f.Type
	case "duration":
		s["type"], s["pattern"] = "string", durationPattern
	case "seed_count":
		s["type"] = []string{"integer", "boolean"}
	case "seed_duration":
		s["anyOf"] = []any{map[string]any{"type": "string", "pattern": durationPattern}, map[string]any{"type": "boolean"}}
	case "list":
		s["type"] = "array"
		if f.Items != nil {
			s["items"] = schemaOf(f.Items, path)
		}
	case "object", "blocks":
		s["type"] = "object"
		props := map[string]any{}
		var required []string
		for _, c := range f.Fields {
			cs := schemaOf(c, append(append([]string{}, path...), c.Key))
			if len(path) > 0 {
				if _, doc, ok := LookupDoc(strings.Join(append(append([]string{}, path...), c.Key), ".")); ok {
					text := doc.Doc
					if doc.Default != "" && doc.Default != "none" {
						text += " (default " + doc.Default + ")"
					}
					cs["description"], cs["markdownDescription"] = plain(text), text
				}
			}
			props[c.Key] = cs
			if c.Required {
				required = append(required, c.Key)
			}
		}
		if len(f.Fields) > 0 {
			s["properties"] = props
		}
		if required != nil {
			s["required"] = required
		}
		switch {
		case f.Each != nil:
			s["additionalProperties"] = schemaOf(f.Each, append(append([]string{}, path...), "*"))
		case f.Type == "object" && len(f.Fields) > 0:
			s["additionalProperties"] = false
		}
	}
	if len(f.Values) > 0 {
		s["enum"] = f.Values
	}
	return s
}

// plain is Markdown without its code marks, for tools that show text.
func plain(md string) string { return strings.ReplaceAll(md, "`", "") }
