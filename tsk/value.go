package tsk

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/tuskcompose/composer/parser"
)

// Pos is a position in a source file. The positions of this package's
// values and diagnostics name the file, the line and the column; their
// Offset is zero (an offset is the text's, and an edit on an earlier line
// changes it without moving the line or the column: a statement the
// cache keeps across such an edit keeps its values as they are). Convert
// with lineCol.
type Pos = parser.Pos

// posOf is the position of a token of the syntax tree, as values and
// diagnostics carry it.
func posOf(p lexer.Position) Pos { return Pos{Filename: p.Filename, Line: p.Line, Column: p.Column} }

// lineCol is p as values and diagnostics carry it (without its offset).
func lineCol(p Pos) Pos {
	p.Offset = 0
	return p
}

// Kind is the type of a Value.
type Kind uint8

// The kinds of values of an evaluated document.
const (
	Null     Kind = iota
	Bool          // true, false
	Int           // 64-bit signed integer
	Float         // 64-bit float
	String        // text
	Array         // ordered list of values
	Object        // ordered map: keys keep the order of the file
	Range         // 8000-9000: Min and Max
	Operator      // an operator the evaluator leaves alone: @query(...), @cache(...)
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "array", "object", "range", "operator"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Value is one node of an evaluated document. Which fields are meaningful
// depends on Kind. Pos is where the value was written. Values are built by
// the evaluator and must be treated as read-only by everyone else.
type Value struct {
	Kind Kind
	Bool bool
	// FromEnv is set on a string read from the environment by @env. Such
	// text is a secret as far as logs go, and decodes into numbers and
	// booleans (PORT=9000 fills an int field).
	FromEnv bool
	Pos     Pos
	// End is the position just after the value's text, when it was
	// written where it is used (zero otherwise, such as for a value read
	// through a variable).
	End   Pos
	Int   int64   // Int; Range minimum
	Max   int64   // Range maximum
	Float float64 // Float
	Str   string  // String; Operator name (without the @)
	List  []*Value
	Obj   *Map
	// Chain holds the chained calls of an Operator:
	// @Query("users").where("a", 1) has Chain [{where, [a, 1]}].
	Chain []Call
}

// Call is one chained call of an Operator value.
type Call struct {
	Name string
	Args []*Value
}

// Member is one key of a Map.
type Member struct {
	Key    string
	KeyPos Pos
	Value  *Value
}

// Map is an ordered map from keys to values: iteration follows the order in
// which keys were first set.
type Map struct {
	members []Member
	index   map[string]int
}

// NewMap returns an empty map.
func NewMap() *Map { return &Map{} }

// Len returns the number of keys.
func (m *Map) Len() int { return len(m.members) }

// Members returns the members in order. The slice must not be modified.
func (m *Map) Members() []Member { return m.members }

// Keys returns the keys in order.
func (m *Map) Keys() []string {
	keys := make([]string, len(m.members))
	for i, mem := range m.members {
		keys[i] = mem.Key
	}
	return keys
}

// Member returns the member for key, or nil. The pointer is valid until
// the next Set.
func (m *Map) Member(key string) *Member {
	if m.index == nil {
		// Small maps are searched; an index is built past a few keys.
		for i := range m.members {
			if m.members[i].Key == key {
				return &m.members[i]
			}
		}
		return nil
	}
	if i, ok := m.index[key]; ok {
		return &m.members[i]
	}
	return nil
}

// Get returns the value for key, or nil.
func (m *Map) Get(key string) *Value {
	if mem := m.Member(key); mem != nil {
		return mem.Value
	}
	return nil
}

// Set sets key to v. A new key goes last; an existing key keeps its place
// and takes the new value and position.
func (m *Map) Set(key string, keyPos Pos, v *Value) {
	if mem := m.Member(key); mem != nil {
		mem.Value, mem.KeyPos = v, keyPos
		return
	}
	m.members = append(m.members, Member{Key: key, KeyPos: keyPos, Value: v})
	const indexAt = 8
	switch {
	case len(m.members) == indexAt:
		m.index = make(map[string]int, 2*indexAt)
		for i, mem := range m.members {
			m.index[mem.Key] = i
		}
	case m.index != nil:
		m.index[key] = len(m.members) - 1
	}
}

// Lookup follows a dotted path ("database.primary.host") from v through
// objects (and array indexes: "replicas.0.host"). It returns nil when the
// path does not exist.
func (v *Value) Lookup(path string) *Value {
	if path == "" {
		return v
	}
	cur := v
	for part := range strings.SplitSeq(path, ".") {
		switch {
		case cur == nil:
			return nil
		case cur.Kind == Object:
			cur = cur.Obj.Get(part)
		case cur.Kind == Array:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(cur.List) {
				return nil
			}
			cur = cur.List[i]
		default:
			return nil
		}
	}
	return cur
}

// Describe names the value for error messages: `string "abc"`, `int 5`,
// `object`. Text from the environment is not shown.
func (v *Value) Describe() string {
	switch v.Kind {
	case Null:
		return "null"
	case Bool:
		return "bool " + strconv.FormatBool(v.Bool)
	case Int:
		return "int " + strconv.FormatInt(v.Int, 10)
	case Float:
		return "float " + formatFloat(v.Float)
	case String:
		if v.FromEnv {
			return "string from the environment"
		}
		s := v.Str
		if len(s) > 40 {
			cut := 40
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut] + "..."
		}
		return "string " + strconv.Quote(s)
	case Range:
		return fmt.Sprintf("range %d-%d", v.Int, v.Max)
	case Operator:
		if op := v.FirstOperator(); op != v {
			return "unevaluated expression over @" + op.Str
		}
		return "unevaluated operator @" + v.Str
	}
	return v.Kind.String()
}

// Text returns the value of a scalar as text, the way string
// concatenation and interpolation write it. ok is false for null,
// collections and operators.
func (v *Value) Text() (s string, ok bool) {
	switch v.Kind {
	case String:
		return v.Str, true
	case Int:
		return strconv.FormatInt(v.Int, 10), true
	case Float:
		return formatFloat(v.Float), true
	case Bool:
		return strconv.FormatBool(v.Bool), true
	case Range:
		return fmt.Sprintf("%d-%d", v.Int, v.Max), true
	}
	return "", false
}

// formatFloat writes a float so that it reads back as a float: 10.0, not 10.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // n: NaN, Inf
		s += ".0"
	}
	return s
}

// Interface converts v to plain Go values: nil, bool, int64, float64,
// string, []any, map[string]any (order is lost), and for ranges and
// operators a map with their parts.
func (v *Value) Interface() any {
	switch v.Kind {
	case Bool:
		return v.Bool
	case Int:
		return v.Int
	case Float:
		return v.Float
	case String:
		return v.Str
	case Array:
		out := make([]any, len(v.List))
		for i, x := range v.List {
			out[i] = x.Interface()
		}
		return out
	case Object:
		out := make(map[string]any, v.Obj.Len())
		for _, m := range v.Obj.Members() {
			out[m.Key] = m.Value.Interface()
		}
		return out
	case Range:
		return map[string]any{"min": v.Int, "max": v.Max, "type": "range"}
	case Operator:
		args := make([]any, len(v.List))
		for i, x := range v.List {
			args[i] = x.Interface()
		}
		return map[string]any{"operator": v.Str, "args": args}
	}
	return nil
}

// FirstOperator returns the named operator inside an Operator value: the
// value itself for @name(...), or the first @name(...) among the operands
// of an unevaluated expression (whose Str is the expression's operator,
// such as "+" or "?:").
func (v *Value) FirstOperator() *Value {
	if v.Kind != Operator || isName(v.Str) {
		return v
	}
	for _, a := range v.List {
		if a.Kind == Operator {
			return a.FirstOperator()
		}
	}
	return v
}

func isName(s string) bool {
	return s != "" && (s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}
