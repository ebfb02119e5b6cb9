package composer

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// Field is a key of the platform file's schema, as the decoder reads it
// (Platform's `tsk` tags): what an editor completes and a JSON Schema
// describes.
type Field struct {
	Key string
	// Type is string, integer, number, boolean, duration, list, object,
	// blocks, any, or seed_count / seed_duration (the seed's `true` too).
	Type     string
	Required bool
	// Fields are an object's keys; Each what every named block of a
	// "blocks" field is (a service, an event route, a per-target block),
	// beside its Fields when it also has keys of its own ([circuit_breaker]).
	Fields []*Field
	Each   *Field
	// Items is a list's element (nil: strings); Values an enumeration.
	Items  *Field
	Values []string
}

// Child returns the field's key name (nil when there is none); a name
// that is not a key is one of its named blocks (Each).
func (f *Field) Child(name string) *Field {
	for _, c := range f.Fields {
		if c.Key == name {
			return c
		}
	}
	return f.Each
}

// Enumerations are the values of the enumerated keys, by path ("*" for a
// block's name): the lists validation checks against.
var Enumerations = map[string][]string{
	"services.*.kind":          serviceKinds,
	"services.*.load_balancer": loadBalancers,
	"services.*.protocol":      protocols,
	"services.*.discovery":     discoveries,
	"services.*.restart":       restarts,
	"services.*.stop_signal":   stopSignals(),
	"health_checks.protocol":   healthProtocols,
	"health_checks.*.protocol": healthProtocols,
	"events.bus":               buses,
	"events.sasl.mechanism":    {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
	"auth.*.kind":              {"jwt", "api_key"},
}

func stopSignals() []string {
	var out []string
	for name := range signals {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Schema is the platform file's sections.
var Schema = func() *Field {
	root := build("", reflect.TypeOf(Platform{}), "")
	return root
}()

// SchemaPaths lists every key's dotted path ("*" for a block's name), in
// the schema's order.
func SchemaPaths() []string {
	var out []string
	var walk func(f *Field, prefix string)
	walk = func(f *Field, prefix string) {
		for _, c := range f.Fields {
			out = append(out, prefix+c.Key)
			walk(c, prefix+c.Key+".")
			if c.Items != nil {
				walk(c.Items, prefix+c.Key+".")
			}
		}
		if f.Each != nil {
			walk(f.Each, prefix+"*.")
		}
	}
	for _, section := range Schema.Fields {
		walk(section, section.Key+".")
	}
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

// build makes the field of Go type t at path.
func build(key string, t reflect.Type, path string) *Field {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	f := &Field{Key: key, Values: Enumerations[path]}
	switch {
	case t == durationType:
		f.Type = "duration"
		return f
	case t == reflect.TypeOf(SeedDuration(0)):
		f.Type = "seed_duration" // a duration, or true: the seed's default
		return f
	case t == reflect.TypeOf(SeedCount(0)):
		f.Type = "seed_count" // an integer, or true: the seed's default
		return f
	case t == reflect.TypeOf(Instances{}):
		f.Type = "any" // a list of URLs (or { url, weight }), or a count
		return f
	case t == reflect.TypeOf(Dependencies{}):
		f.Type = "any" // a list of names, or { name: "condition" }
		return f
	}
	switch t.Kind() {
	case reflect.String:
		f.Type = "string"
	case reflect.Bool:
		f.Type = "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		f.Type = "integer"
	case reflect.Float64, reflect.Float32:
		f.Type = "number"
	case reflect.Slice:
		f.Type = "list"
		f.Items = build("", t.Elem(), path)
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			f.Type = "object" // NAME: VALUE pairs
			return f
		}
		f.Type = "blocks"
		f.Each = build("", t.Elem(), path+".*")
	case reflect.Struct:
		f.Type = "object"
		fields(f, t, path)
	default:
		f.Type = "any"
	}
	return f
}

// fields adds the keys of struct t to f: tagged fields, embedded structs'
// keys, and a `,rest` map's named blocks as f.Each.
func fields(f *Field, t reflect.Type, path string) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, tagged := sf.Tag.Lookup("tsk")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case sf.Anonymous && !tagged:
			fields(f, sf.Type, path)
		case !tagged || !sf.IsExported():
		case opts == "rest":
			f.Each = build("", sf.Type.Elem(), join("*"))
		default:
			c := build(name, sf.Type, join(name))
			c.Required = opts == "required"
			f.Fields = append(f.Fields, c)
		}
	}
}
