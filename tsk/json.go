package tsk

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// MarshalJSON writes the value as JSON with object keys in document order.
// Ranges are {"min":..,"max":..,"type":"range"}; unevaluated operators are
// {"operator":"name","args":[...]} (plus "chain" when calls are chained).
func (v *Value) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	writeJSON(&b, v, "", "")
	return b.Bytes(), nil
}

// JSON returns the value as indented JSON (indent "" for compact), keys in
// document order.
func (v *Value) JSON(indent string) []byte {
	var b bytes.Buffer
	writeJSON(&b, v, "", indent)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v *Value, prefix, indent string) {
	inner := prefix + indent
	nl := func(p string) {
		if indent != "" {
			b.WriteByte('\n')
			b.WriteString(p)
		}
	}
	colon := ":"
	if indent != "" {
		colon = ": "
	}
	switch v.Kind {
	case Null:
		b.WriteString("null")
	case Bool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Int:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case Float:
		b.WriteString(formatFloat(v.Float))
	case String:
		writeString(b, v.Str)
	case Range:
		obj := NewMap()
		obj.Set("min", v.Pos, &Value{Kind: Int, Int: v.Int})
		obj.Set("max", v.Pos, &Value{Kind: Int, Int: v.Max})
		obj.Set("type", v.Pos, &Value{Kind: String, Str: "range"})
		writeJSON(b, &Value{Kind: Object, Obj: obj}, prefix, indent)
	case Array:
		if len(v.List) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, x := range v.List {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(inner)
			writeJSON(b, x, inner, indent)
		}
		nl(prefix)
		b.WriteByte(']')
	case Object:
		if v.Obj.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, m := range v.Obj.Members() {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(inner)
			writeString(b, m.Key)
			b.WriteString(colon)
			writeJSON(b, m.Value, inner, indent)
		}
		nl(prefix)
		b.WriteByte('}')
	case Operator:
		obj := NewMap()
		obj.Set("operator", v.Pos, &Value{Kind: String, Str: v.Str})
		obj.Set("args", v.Pos, &Value{Kind: Array, List: v.List})
		if len(v.Chain) > 0 {
			chain := &Value{Kind: Array}
			for _, c := range v.Chain {
				link := NewMap()
				link.Set("name", v.Pos, &Value{Kind: String, Str: c.Name})
				link.Set("args", v.Pos, &Value{Kind: Array, List: c.Args})
				chain.List = append(chain.List, &Value{Kind: Object, Obj: link})
			}
			obj.Set("chain", v.Pos, chain)
		}
		writeJSON(b, &Value{Kind: Object, Obj: obj}, prefix, indent)
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // strings always encode
	b.Truncate(b.Len() - 1) // Encode adds a newline
}
