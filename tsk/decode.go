package tsk

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Unmarshaler is implemented by types that decode themselves from a value
// (e.g. a setting where `true` means a default). Decode calls UnmarshalTSK
// on a pointer to the field, before any other rule applies, with every
// value except an unevaluated operator (null included). An error that is a
// Diagnostics or a Diagnostic is reported as it is; any other error is
// reported at the value's position, prefixed with the key path. The error
// text must not include the text of a value with FromEnv set.
//
// What UnmarshalTSK makes must depend on v's content only, not keep v or
// its positions: a document loaded with a Cache may hand the result made
// from a value of the same text at another place (see Document.Decode).
type Unmarshaler interface {
	UnmarshalTSK(v *Value) error
}

// Decode decodes the whole document into out (see Decode).
//
// A document loaded with a Cache decodes the entries of maps of structs
// (a platform's services) that the last load decoded from the same
// values, or from values of the same text that moved (Canonical), into
// the same Go values, without decoding them again; such a value is
// shared by the decoded results of both loads, and read-only. (A struct
// that can hold a Value is kept by its value only.)
func (d *Document) Decode(out any) error { return decode(d.Root, out, d.memo, d.Canonical) }

// Decode decodes v into out, a non-nil pointer. It returns nil or a
// Diagnostics listing every problem at once, sorted by position; a problem
// in one field does not stop the decoding of the others. A nil v leaves
// out unchanged. Decode is safe for concurrent use (v is only read).
//
// Struct fields map to keys through tags:
//
//	Kind     string            `tsk:"kind"`           // key "kind"
//	Name     string            `tsk:"name,required"`  // a missing key is a diagnostic
//	Internal int               `tsk:"-"`              // never decoded
//	Timeout  time.Duration                             // key "timeout"
//	HTTPPort int                                       // key "http_port"
//	Services map[string]Service `tsk:",rest"`         // every key that matches no field
//
// An exported field without a tag (or with a tag without a name) uses its
// name in snake_case: ServiceMesh is service_mesh, HTTPPort is http_port;
// tag fields whose snake_case name is not what users should write.
// Unexported fields are ignored. The fields of embedded structs (and of
// embedded pointers to exported structs, allocated when needed) are
// promoted as in encoding/json: a shallower field hides a deeper one of
// the same name, at the same depth a tagged field wins, and names that
// stay ambiguous are dropped. A field tagged `tsk:",rest"`, of type
// map[string]T, receives the keys that match no field, each decoded as T;
// without one, such a key is a diagnostic ("unknown key", with a "did you
// mean" hint when a field name is close). Keys match exactly (case
// sensitive).
//
// A field whose key is absent keeps its current value, so callers fill in
// defaults before decoding; a `required` field whose key is absent is a
// diagnostic.
//
// Values decode into Go types as follows (anything else is an "expected
// ..., got ..." diagnostic at the value's position, naming the key path):
//
//   - *Value and Value receive the value itself, whatever its kind; the
//     tree is shared and must be treated as read-only.
//   - An unevaluated operator (Kind Operator, e.g. @query(...)) is a
//     diagnostic everywhere else: only @env, @date, var() and
//     @file.tsk.get have values.
//   - A type whose pointer implements Unmarshaler decodes itself (checked
//     before every rule below).
//   - Pointers: null sets the pointer to nil; any other value decodes into
//     the pointed-to value, allocated when the pointer is nil.
//   - time.Duration: a string in time.ParseDuration form ("500ms", "30s",
//     "5m"). A bare number is an error: write "30s".
//   - A type whose pointer implements encoding.TextUnmarshaler: from a
//     string. Other values decode by the type's kind, except into structs.
//   - string: a string only (no conversion from numbers or booleans).
//   - bool: a bool.
//   - int and uint types of every size: an int, or a float with an
//     integral value (2.0, not 2.5), checked against the type's range.
//   - float32, float64: an int or a float (range checked for float32).
//   - Slices: from an array, replacing the slice (null sets it to nil).
//     Arrays of fixed size need exactly that many items.
//   - Maps with string keys: from an object, merged into a copy of the
//     map's current entries (the caller's map is never modified); an entry
//     already there is the starting value of its key. null sets it to nil.
//   - Structs: from an object, as above.
//   - Empty interfaces: Value.Interface() (nil for null); an interface that
//     holds a non-nil pointer decodes into what it points to.
//   - A Range (8000-9000) decodes into a struct or a map as the object
//     {min: 8000, max: 9000, type: "range"}; the "type" key is skipped
//     for structs without a field for it and maps of numbers.
//
// A string read from the environment (Value.FromEnv) also decodes from its
// text into integers and floats (decimal), bools ("true", "false", "1",
// "0") and durations, so that PORT=9000 fills an int field. Messages never
// show such text.
//
// Diagnostics name the path from v: `services.users.kind: expected a
// string, got int 5`, `routes[2]: ...`; unknown keys are reported at the
// key (`unknown key "timeot" in services.billing (did you mean
// "timeout"?)`, and at the top `unknown section "x"` for an object);
// missing required keys at the object (`services.users: missing required
// key "kind"`).
func Decode(v *Value, out any) error { return decode(v, out, nil, nil) }

func decode(v *Value, out any, memo *Memo, canonical func(*Value) *Value) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return Diagnostics{{Msg: fmt.Sprintf("tsk.Decode: out must be a non-nil pointer, got %T", out)}}
	}
	if v == nil {
		return nil
	}
	d := &decoder{memo: TableOf[decodeKey, any](memo, "tsk.decode"), canonical: canonical}
	d.value(v, rv.Elem())
	return d.diags.Sort().Err()
}

var (
	valueType           = reflect.TypeFor[Value]()
	valuePtrType        = reflect.TypeFor[*Value]()
	durationType        = reflect.TypeFor[time.Duration]()
	unmarshalerType     = reflect.TypeFor[Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder is the state of one Decode call.
type decoder struct {
	diags Diagnostics
	memo  *Table[decodeKey, any] // of the document's cache (nil: none); see mapEntry
	// canonical is the document's Canonical: decoded values hold no
	// positions, so an entry is kept by the content its value stands for.
	canonical func(*Value) *Value
	// path is the key path of the value being decoded ("services.users",
	// "routes[2]"); segments are appended and cut off as decoding descends
	// and returns, so that no string is built unless there is a problem.
	path []byte
}

// errorf reports a problem with the value at the current path.
func (d *decoder) errorf(pos Pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(d.path) > 0 {
		msg = string(d.path) + ": " + msg
	}
	d.diags = append(d.diags, Diagnostic{Pos: pos, Msg: msg})
}

// errorfAt reports a problem with v, at v's range.
func (d *decoder) errorfAt(v *Value, format string, args ...any) {
	d.errorf(v.Pos, format, args...)
	d.diags[len(d.diags)-1].End = v.End
}

// push appends a key to the path and returns the mark to pop back to.
func (d *decoder) push(key string) int {
	n := len(d.path)
	if n > 0 {
		d.path = append(d.path, '.')
	}
	d.path = append(d.path, key...)
	return n
}

// pushIndex appends an array index to the path.
func (d *decoder) pushIndex(i int) int {
	n := len(d.path)
	d.path = append(d.path, '[')
	d.path = strconv.AppendInt(d.path, int64(i), 10)
	d.path = append(d.path, ']')
	return n
}

func (d *decoder) pop(mark int) { d.path = d.path[:mark] }

// value decodes v into rv, which is settable.
func (d *decoder) value(v *Value, rv reflect.Value) {
	t := rv.Type()
	switch t {
	case valuePtrType:
		rv.Set(reflect.ValueOf(v))
		return
	case valueType:
		rv.Set(reflect.ValueOf(v).Elem())
		return
	}
	if v.Kind == Operator {
		d.operator(v)
		return
	}
	if t.Kind() == reflect.Pointer {
		if v.Kind == Null {
			rv.SetZero()
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		d.value(v, rv.Elem())
		return
	}
	ti := infoOf(t)
	if ti.unmarshaler {
		d.unmarshaler(v, rv.Addr().Interface().(Unmarshaler))
		return
	}
	if t == durationType {
		d.duration(v, rv)
		return
	}
	if ti.text && (v.Kind == String || t.Kind() == reflect.Struct) {
		d.text(v, rv)
		return
	}
	switch t.Kind() {
	case reflect.String:
		if v.Kind != String {
			d.mismatch(v, "a string")
			return
		}
		rv.SetString(v.Str)
	case reflect.Bool:
		d.bool(v, rv)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.int(v, rv)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.uint(v, rv)
	case reflect.Float32, reflect.Float64:
		d.float(v, rv)
	case reflect.Slice:
		d.slice(v, rv)
	case reflect.Array:
		d.array(v, rv)
	case reflect.Map:
		d.mapValue(v, rv)
	case reflect.Struct:
		switch v.Kind {
		case Object:
			d.object(v, rv, ti.fields, false)
		case Range:
			d.object(rangeObject(v, true), rv, ti.fields, true)
		default:
			d.mismatch(v, "an object")
		}
	case reflect.Interface:
		d.iface(v, rv)
	default:
		d.errorfAt(v, "cannot decode into Go type %s", t)
	}
}

// mismatch reports a value of the wrong type.
func (d *decoder) mismatch(v *Value, want string) {
	d.errorfAt(v, "expected %s, got %s", want, v.Describe())
}

// operator reports an operator that the evaluator left alone.
func (d *decoder) operator(v *Value) {
	d.errorfAt(v, "@%s(...) cannot be evaluated here (only @env, @date, var() and @file.tsk.get have values)", operatorName(v))
}

// operatorName returns the name of the operator in v: an expression over
// an operator (@query(...) + 1) is an Operator whose Str is the
// expression's operator ("+"), with its operands in List.
func operatorName(v *Value) string {
	if v.Str != "" && (unicode.IsLetter(rune(v.Str[0])) || v.Str[0] == '_') {
		return v.Str
	}
	for _, x := range v.List {
		if x.Kind == Operator {
			if n := operatorName(x); n != "" {
				return n
			}
		}
	}
	return v.Str
}

func (d *decoder) unmarshaler(v *Value, u Unmarshaler) {
	err := u.UnmarshalTSK(v)
	if err == nil {
		return
	}
	var ds Diagnostics
	var one Diagnostic
	switch {
	case errors.As(err, &ds):
		d.diags = append(d.diags, ds...)
	case errors.As(err, &one):
		d.diags = append(d.diags, one)
	default:
		d.errorfAt(v, "%s", err.Error())
	}
}

func (d *decoder) duration(v *Value, rv reflect.Value) {
	const examples = `(examples: "500ms", "30s", "5m")`
	switch v.Kind {
	case String:
		s := v.Str
		if v.FromEnv {
			s = strings.TrimSpace(s)
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			if v.FromEnv {
				d.errorfAt(v, "invalid duration from the environment %s", examples)
			} else {
				d.errorfAt(v, "invalid duration %q %s", v.Str, examples)
			}
			return
		}
		rv.SetInt(int64(dur))
	case Int:
		d.errorfAt(v, `expected a duration with a unit, got int %d (write "%ds")`, v.Int, v.Int)
	default:
		d.mismatch(v, `a duration such as "30s"`)
	}
}

func (d *decoder) text(v *Value, rv reflect.Value) {
	if v.Kind != String {
		d.mismatch(v, "a string")
		return
	}
	u := rv.Addr().Interface().(encoding.TextUnmarshaler)
	if err := u.UnmarshalText([]byte(v.Str)); err != nil {
		if v.FromEnv {
			d.errorfAt(v, "cannot decode the string from the environment into %s", rv.Type())
		} else {
			d.errorfAt(v, "cannot decode %s into %s: %v", v.Describe(), rv.Type(), err)
		}
	}
}

func (d *decoder) bool(v *Value, rv reflect.Value) {
	switch {
	case v.Kind == Bool:
		rv.SetBool(v.Bool)
	case v.Kind == String && v.FromEnv:
		switch strings.TrimSpace(v.Str) {
		case "true", "TRUE", "1":
			rv.SetBool(true)
		case "false", "FALSE", "0":
			rv.SetBool(false)
		default:
			d.mismatch(v, `a bool ("true", "false", "1" or "0")`)
		}
	default:
		d.mismatch(v, "a bool")
	}
}

// Float bounds of the integer types: float64(math.MaxInt64) rounds up to
// 2^63, which does not fit.
const (
	twoTo63 = 1 << 63
	twoTo64 = 1 << 64
)

func (d *decoder) int(v *Value, rv reflect.Value) {
	var n int64
	switch {
	case v.Kind == Int:
		n = v.Int
	case v.Kind == Float:
		f := v.Float
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			d.mismatch(v, "an integer")
			return
		}
		if f < -twoTo63 || f >= twoTo63 {
			d.errorfAt(v, "%s is out of range for %s", formatFloat(f), rv.Kind())
			return
		}
		n = int64(f)
	case v.Kind == String && v.FromEnv:
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64)
		if errors.Is(err, strconv.ErrRange) || err == nil && rv.OverflowInt(n) {
			d.errorfAt(v, "the integer from the environment is out of range for %s", rv.Kind())
			return
		}
		if err != nil {
			d.mismatch(v, "an integer")
			return
		}
	default:
		d.mismatch(v, "an integer")
		return
	}
	if rv.OverflowInt(n) {
		d.errorfAt(v, "%s is out of range for %s", numText(v, n), rv.Kind())
		return
	}
	rv.SetInt(n)
}

func (d *decoder) uint(v *Value, rv reflect.Value) {
	var n uint64
	switch {
	case v.Kind == Int:
		if v.Int < 0 {
			d.errorfAt(v, "%d is out of range for %s", v.Int, rv.Kind())
			return
		}
		n = uint64(v.Int)
	case v.Kind == Float:
		f := v.Float
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			d.mismatch(v, "an integer")
			return
		}
		if f < 0 || f >= twoTo64 {
			d.errorfAt(v, "%s is out of range for %s", formatFloat(f), rv.Kind())
			return
		}
		n = uint64(f)
	case v.Kind == String && v.FromEnv:
		s := strings.TrimSpace(v.Str)
		var err error
		if strings.HasPrefix(s, "-") {
			// A negative number is out of range; anything else is no number.
			if _, err = strconv.ParseInt(s, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
				err = strconv.ErrRange
			}
		} else {
			n, err = strconv.ParseUint(s, 10, 64)
		}
		if errors.Is(err, strconv.ErrRange) || err == nil && rv.OverflowUint(n) {
			d.errorfAt(v, "the integer from the environment is out of range for %s", rv.Kind())
			return
		}
		if err != nil {
			d.mismatch(v, "an integer")
			return
		}
	default:
		d.mismatch(v, "an integer")
		return
	}
	if rv.OverflowUint(n) {
		d.errorfAt(v, "%s is out of range for %s", numText(v, int64(n)), rv.Kind())
		return
	}
	rv.SetUint(n)
}

// numText writes a number for an out-of-range message as it was written.
func numText(v *Value, n int64) string {
	if v.Kind == Float {
		return formatFloat(v.Float)
	}
	return strconv.FormatInt(n, 10)
}

func (d *decoder) float(v *Value, rv reflect.Value) {
	var f float64
	switch {
	case v.Kind == Int:
		f = float64(v.Int)
	case v.Kind == Float:
		f = v.Float
	case v.Kind == String && v.FromEnv:
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
		if errors.Is(err, strconv.ErrRange) || err == nil && rv.OverflowFloat(f) {
			d.errorfAt(v, "the number from the environment is out of range for %s", rv.Kind())
			return
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.mismatch(v, "a number")
			return
		}
	default:
		d.mismatch(v, "a number")
		return
	}
	if rv.OverflowFloat(f) {
		d.errorfAt(v, "%s is out of range for %s", formatFloat(f), rv.Kind())
		return
	}
	rv.SetFloat(f)
}

func (d *decoder) slice(v *Value, rv reflect.Value) {
	switch v.Kind {
	case Null:
		rv.SetZero()
		return
	case Array:
	default:
		d.mismatch(v, "an array")
		return
	}
	// A new slice, never the current one's array: callers' defaults may
	// share it.
	s := reflect.MakeSlice(rv.Type(), len(v.List), len(v.List))
	for i, item := range v.List {
		mark := d.pushIndex(i)
		d.value(item, s.Index(i))
		d.pop(mark)
	}
	rv.Set(s)
}

func (d *decoder) array(v *Value, rv reflect.Value) {
	if v.Kind != Array {
		d.mismatch(v, "an array")
		return
	}
	if len(v.List) != rv.Len() {
		d.errorfAt(v, "expected an array of %d items, got %d", rv.Len(), len(v.List))
		return
	}
	for i, item := range v.List {
		mark := d.pushIndex(i)
		d.value(item, rv.Index(i))
		d.pop(mark)
	}
}

func (d *decoder) mapValue(v *Value, rv reflect.Value) {
	t := rv.Type()
	if t.Key().Kind() != reflect.String {
		d.errorfAt(v, "cannot decode into Go type %s (map keys must be strings)", t)
		return
	}
	obj := v
	switch v.Kind {
	case Null:
		rv.SetZero()
		return
	case Object:
	case Range:
		obj = rangeObject(v, !isNumber(t.Elem()))
	default:
		d.mismatch(v, "an object")
		return
	}
	m := copyMap(rv, obj.Obj.Len())
	for _, mem := range obj.Obj.Members() {
		d.mapEntry(m, mem.Key, mem.Value)
	}
}

// isNumber reports whether values of t are numbers (after pointers).
func isNumber(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if infoOf(t).unmarshaler {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// copyMap sets rv (a map) to a new map holding rv's entries, and returns
// it: decoding never writes into a map the caller may share.
func copyMap(rv reflect.Value, extra int) reflect.Value {
	m := reflect.MakeMapWithSize(rv.Type(), rv.Len()+extra)
	for it := rv.MapRange(); it.Next(); {
		m.SetMapIndex(it.Key(), it.Value())
	}
	rv.Set(m)
	return m
}

// mapEntry decodes val into the entry key of m, starting from the entry's
// current value.
func (d *decoder) mapEntry(m reflect.Value, key string, val *Value) {
	t := m.Type()
	k := reflect.ValueOf(key)
	if k.Type() != t.Key() {
		k = k.Convert(t.Key())
	}
	e := reflect.New(t.Elem()).Elem()
	old := m.MapIndex(k)
	if old.IsValid() {
		e.Set(old)
	}
	// An entry decoded from scratch into a struct is kept in the memo,
	// by the content its value stands for, unless it had a problem.
	var mk decodeKey
	if d.memo != nil && !old.IsValid() && isStruct(t.Elem()) {
		mk = decodeKey{val, t.Elem()}
		if !holdsValues(t.Elem()) {
			mk.v = d.canonical(val) // a Go value of the content alone
		}
		if kept, ok := d.memo.Get(mk); ok {
			m.SetMapIndex(k, reflect.ValueOf(kept))
			return
		}
	}
	mark, problems := d.push(key), len(d.diags)
	d.value(val, e)
	d.pop(mark)
	m.SetMapIndex(k, e)
	if mk.v != nil && len(d.diags) == problems {
		d.memo.Put(mk, e.Interface())
	}
}

// decodeKey is a map entry's key in the memo: its value and Go type.
type decodeKey struct {
	v *Value
	t reflect.Type
}

// holdsValues reports whether values of t can hold a *Value or a Value
// (and with it the positions of the text they were decoded from).
func holdsValues(t reflect.Type) bool {
	if h, ok := holdsCache.Load(t); ok {
		return h.(bool)
	}
	holdsCache.Store(t, true) // a type that contains itself: taken to hold values while it is looked at
	h := holds(t)
	holdsCache.Store(t, h)
	return h
}

var holdsCache sync.Map // reflect.Type -> bool

func holds(t reflect.Type) bool {
	switch t {
	case valueType, valuePtrType:
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsValues(t.Elem())
	case reflect.Map:
		return holdsValues(t.Key()) || holdsValues(t.Elem())
	case reflect.Interface:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsValues(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// isStruct reports whether t is a struct or a pointer to one.
func isStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// rangeObject returns a range as the object {min, max, type: "range"},
// without the "type" key unless withType.
func rangeObject(v *Value, withType bool) *Value {
	o := &Value{Kind: Object, Pos: v.Pos, Obj: NewMap()}
	o.Obj.Set("min", v.Pos, &Value{Kind: Int, Pos: v.Pos, Int: v.Int})
	o.Obj.Set("max", v.Pos, &Value{Kind: Int, Pos: v.Pos, Int: v.Max})
	if withType {
		o.Obj.Set("type", v.Pos, &Value{Kind: String, Pos: v.Pos, Str: "range"})
	}
	return o
}

func (d *decoder) iface(v *Value, rv reflect.Value) {
	if v.Kind != Null && !rv.IsNil() {
		if p := rv.Elem(); p.Kind() == reflect.Pointer && !p.IsNil() {
			d.value(v, p.Elem())
			return
		}
	}
	if rv.NumMethod() > 0 {
		d.errorfAt(v, "cannot decode into Go type %s", rv.Type())
		return
	}
	if !d.concrete(v) {
		return
	}
	if v.Kind == Null {
		rv.SetZero()
		return
	}
	rv.Set(reflect.ValueOf(v.Interface()))
}

// concrete reports every operator inside v; it returns true when there
// is none.
func (d *decoder) concrete(v *Value) bool {
	switch v.Kind {
	case Operator:
		d.operator(v)
		return false
	case Array:
		ok := true
		for i, x := range v.List {
			mark := d.pushIndex(i)
			ok = d.concrete(x) && ok
			d.pop(mark)
		}
		return ok
	case Object:
		ok := true
		for _, m := range v.Obj.Members() {
			mark := d.push(m.Key)
			ok = d.concrete(m.Value) && ok
			d.pop(mark)
		}
		return ok
	}
	return true
}

// object decodes an object into a struct. fromRange is set when obj was
// made from a range: its "type" key is then optional.
func (d *decoder) object(obj *Value, rv reflect.Value, sf *structFields, fromRange bool) {
	var seen []bool
	if len(sf.required) > 0 {
		seen = make([]bool, len(sf.list))
	}
	var rest reflect.Value // the rest map, once copied
	for _, mem := range obj.Obj.Members() {
		if i, ok := sf.byName[mem.Key]; ok {
			f := &sf.list[i]
			if seen != nil {
				seen[i] = true
			}
			mark := d.push(mem.Key)
			d.value(mem.Value, fieldByIndex(rv, f.index))
			d.pop(mark)
			continue
		}
		switch {
		case fromRange && mem.Key == "type":
		case sf.rest != nil && sf.restErr == "":
			if !rest.IsValid() {
				rest = copyMap(fieldByIndex(rv, sf.rest), obj.Obj.Len())
			}
			n := len(d.diags)
			d.mapEntry(rest, mem.Key, mem.Value)
			// A misspelt field lands here: say so on its first problem.
			if len(d.diags) > n {
				if s := Suggest(mem.Key, sf.names); s != "" {
					d.diags[n].Msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
			}
		default:
			d.unknown(&mem, sf.names)
		}
	}
	if sf.restErr != "" {
		d.errorfAt(obj, "%s", sf.restErr)
	}
	for _, i := range sf.required {
		if !seen[i] {
			d.errorfAt(obj, "missing required key %q", sf.list[i].name)
		}
	}
}

// unknown reports a key that matches no field.
func (d *decoder) unknown(mem *Member, names []string) {
	var msg string
	switch {
	case len(d.path) > 0:
		msg = fmt.Sprintf("unknown key %q in %s", mem.Key, d.path)
	case mem.Value.Kind == Object:
		msg = fmt.Sprintf("unknown section %q", mem.Key)
	default:
		msg = fmt.Sprintf("unknown key %q", mem.Key)
	}
	if s := Suggest(mem.Key, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.diags = append(d.diags, Errorf(mem.KeyPos, "%s", msg))
}

// fieldByIndex returns the field at index, allocating nil embedded
// pointers on the way.
func fieldByIndex(rv reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv
}

// typeInfo is what Decode needs to know about a type; it is computed once
// per type and kept in typeCache.
type typeInfo struct {
	unmarshaler bool          // *T implements Unmarshaler
	text        bool          // *T implements encoding.TextUnmarshaler
	fields      *structFields // structs only
}

// typeCache maps a reflect.Type to its *typeInfo.
var typeCache sync.Map

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeCache.Load(t); ok {
		return ti.(*typeInfo)
	}
	pt := reflect.PointerTo(t)
	ti := &typeInfo{
		unmarshaler: pt.Implements(unmarshalerType),
		text:        pt.Implements(textUnmarshalerType),
	}
	if t.Kind() == reflect.Struct {
		ti.fields = structFieldsOf(t)
	}
	actual, _ := typeCache.LoadOrStore(t, ti)
	return actual.(*typeInfo)
}

// field is one key of a struct.
type field struct {
	name     string
	index    []int // for reflect.Value.FieldByIndex, through embedded structs
	required bool
	tagged   bool // the name comes from a tag
}

// structFields are the keys of a struct type, promoted fields included.
type structFields struct {
	list     []field        // in declaration order
	byName   map[string]int // key -> index in list
	names    []string       // the keys, in declaration order (for "did you mean")
	required []int          // indexes in list of the required fields
	rest     []int          // index of the ",rest" field, or nil
	restErr  string         // why the ",rest" field cannot be used
}

// structFieldsOf computes the keys of a struct type, promoting the fields
// of embedded structs breadth first as encoding/json does.
func structFieldsOf(t reflect.Type) *structFields {
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	var (
		fields        []field
		rest          []int
		restType      reflect.Type
		restName      string
		current, next = []embedded{}, []embedded{{typ: t}}
		count         = map[reflect.Type]int{}
		nextCount     = map[reflect.Type]int{}
		visited       = map[reflect.Type]bool{}
	)
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := range e.typ.NumField() {
				sf := e.typ.Field(i)
				tag := sf.Tag.Get("tsk")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				options := strings.Split(opts, ",")
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() {
					// Only the exported fields of an embedded struct
					// (not through a pointer: it could not be allocated).
					if !sf.Anonymous || sf.Type.Kind() != reflect.Struct || name != "" || opts != "" {
						continue
					}
				}
				index := make([]int, len(e.index)+1)
				copy(index, e.index)
				index[len(e.index)] = i
				if slices.Contains(options, "rest") {
					if rest == nil {
						rest, restType, restName = index, sf.Type, sf.Name
					}
					continue
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					nextCount[ft]++
					if nextCount[ft] == 1 {
						next = append(next, embedded{typ: ft, index: index})
					}
					continue
				}
				f := field{name: name, index: index, required: slices.Contains(options, "required"), tagged: name != ""}
				if f.name == "" {
					f.name = snakeCase(sf.Name)
				}
				fields = append(fields, f)
				if count[e.typ] > 1 {
					// The same struct embedded twice at one depth: its
					// fields are ambiguous, and the duplicate drops them.
					fields = append(fields, f)
				}
			}
		}
	}

	// Keep, for each name, the dominant field: the shallowest, a tagged one
	// among equals; drop the name when that leaves more than one.
	slices.SortStableFunc(fields, func(a, b field) int {
		return cmp.Or(
			strings.Compare(a.name, b.name),
			cmp.Compare(len(a.index), len(b.index)),
			boolOrder(a.tagged, b.tagged),
		)
	})
	kept := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		i = j
		if len(group) > 1 && len(group[0].index) == len(group[1].index) && group[0].tagged == group[1].tagged {
			continue
		}
		kept = append(kept, group[0])
	}
	slices.SortFunc(kept, func(a, b field) int { return slices.Compare(a.index, b.index) })

	s := &structFields{list: kept, byName: make(map[string]int, len(kept)), rest: rest}
	for i, f := range kept {
		s.byName[f.name] = i
		s.names = append(s.names, f.name)
		if f.required {
			s.required = append(s.required, i)
		}
	}
	if rest != nil && (restType.Kind() != reflect.Map || restType.Key().Kind() != reflect.String) {
		s.restErr = fmt.Sprintf("cannot decode into %s.%s: a `tsk:\",rest\"` field must be a map[string]T, not %s", t, restName, restType)
	}
	return s
}

// boolOrder orders true before false.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// snakeCase writes a Go field name the way keys are written:
// ServiceMesh is service_mesh, HTTPPort is http_port, UserID is user_id.
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	b.Grow(len(name) + 4)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && nextLower {
					b.WriteByte('_')
				}
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
