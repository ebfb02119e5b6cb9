package tsk

import (
	"math"
	"math/bits"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/tuskcompose/composer/parser"
)

// precedence of the binary operators; higher binds tighter. All are left
// associative.
var precedence = map[string]int{
	"|":  1,
	"||": 2,
	"&&": 3,
	"==": 4, "!=": 4,
	"<": 5, "<=": 5, ">": 5, ">=": 5,
	"+": 6, "-": 6,
	"*": 7, "/": 7, "%": 7,
}

// node is an operator tree built from a flat chain: a leaf (operand) or an
// operator with two children.
type node struct {
	operand     *parser.Primary
	op          lexer.Token
	left, right *node
}

// buildTree applies operator precedence to a flat chain
// head tail[0].Op tail[0].Right ... (shunting-yard).
func buildTree(head *parser.Primary, tail []*parser.BinOp) *node {
	out := []*node{{operand: head}}
	var stack []lexer.Token
	reduce := func() {
		op := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r, l := out[len(out)-1], out[len(out)-2]
		out = append(out[:len(out)-2], &node{op: op, left: l, right: r})
	}
	for _, link := range tail {
		for len(stack) > 0 && precedence[stack[len(stack)-1].Value] >= precedence[link.Op.Value] {
			reduce()
		}
		stack = append(stack, link.Op)
		out = append(out, &node{operand: link.Right})
	}
	for len(stack) > 0 {
		reduce()
	}
	return out[0]
}

// binary evaluates an operator tree. && and || do not evaluate their right
// side when the left decides; | (fallback) neither when its left is set.
func (e *evaluator) binary(n *node) *Value {
	if n.operand != nil {
		return e.primary(n.operand)
	}
	l := e.binary(n.left)
	if l == nil {
		return nil
	}
	switch op := n.op.Value; {
	case op == "&&" && l.Kind == Bool && !l.Bool,
		op == "||" && l.Kind == Bool && l.Bool:
		return &Value{Kind: Bool, Pos: l.Pos, Bool: l.Bool}
	case op == "|" && l.Kind != Null && l.Kind != Operator:
		return l
	}
	r := e.binary(n.right)
	if r == nil {
		return nil
	}
	return e.apply(n.op, l, r)
}

// apply applies a binary operator to two values.
func (e *evaluator) apply(opTok lexer.Token, a, b *Value) *Value {
	op := opTok.Value
	pos := a.Pos
	if a.Kind == Operator || b.Kind == Operator {
		// An expression over an unevaluated operator stays unevaluated.
		return &Value{Kind: Operator, Pos: pos, Str: op, List: []*Value{a, b}}
	}
	env := a.FromEnv || b.FromEnv
	switch op {
	case "|":
		return b // a is null
	case "&&", "||":
		if a.Kind != Bool || b.Kind != Bool {
			return e.typeError(opTok, a, b, "booleans")
		}
		return &Value{Kind: Bool, Pos: pos, Bool: b.Bool}
	case "==", "!=":
		eq := equal(a, b)
		return &Value{Kind: Bool, Pos: pos, Bool: eq == (op == "==")}
	case "<", "<=", ">", ">=":
		c, ok := compare(a, b)
		if !ok {
			return e.typeError(opTok, a, b, "two numbers or two strings")
		}
		var r bool
		switch op {
		case "<":
			r = c < 0
		case "<=":
			r = c <= 0
		case ">":
			r = c > 0
		case ">=":
			r = c >= 0
		}
		return &Value{Kind: Bool, Pos: pos, Bool: r}
	case "+":
		if a.Kind == String || b.Kind == String {
			as, aok := a.Text()
			bs, bok := b.Text()
			if !aok || !bok {
				return e.typeError(opTok, a, b, "strings, numbers or booleans to join")
			}
			return &Value{Kind: String, Pos: pos, Str: as + bs, FromEnv: env}
		}
	}
	// Arithmetic.
	if !numeric(a) || !numeric(b) {
		return e.typeError(opTok, a, b, "numbers")
	}
	if a.Kind == Int && b.Kind == Int {
		return e.intOp(opTok, a.Int, b.Int, pos)
	}
	if op == "%" {
		return e.typeError(opTok, a, b, "integers")
	}
	x, y := toFloat(a), toFloat(b)
	var f float64
	switch op {
	case "+":
		f = x + y
	case "-":
		f = x - y
	case "*":
		f = x * y
	case "/":
		if y == 0 {
			e.errorf(posOf(opTok.Pos), "division by zero")
			return nil
		}
		f = x / y
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.errorf(posOf(opTok.Pos), "float overflow in %s", op)
		return nil
	}
	return &Value{Kind: Float, Pos: pos, Float: f}
}

// intOp does integer arithmetic with overflow checks. x / y is an integer
// when y divides x, a float otherwise.
func (e *evaluator) intOp(opTok lexer.Token, x, y int64, pos Pos) *Value {
	var r int64
	overflow := false
	switch opTok.Value {
	case "+":
		r = x + y
		overflow = (x > 0 && y > 0 && r < 0) || (x < 0 && y < 0 && r >= 0)
	case "-":
		r = x - y
		overflow = (x >= 0 && y < 0 && r < 0) || (x < 0 && y > 0 && r >= 0)
	case "*":
		hi, lo := bits.Mul64(uint64(abs(x)), uint64(abs(y)))
		overflow = hi != 0 || lo > math.MaxInt64
		r = x * y
	case "/", "%":
		if y == 0 {
			e.errorf(posOf(opTok.Pos), "division by zero")
			return nil
		}
		if opTok.Value == "%" {
			r = x % y
		} else if x%y != 0 {
			return &Value{Kind: Float, Pos: pos, Float: float64(x) / float64(y)}
		} else {
			overflow = x == math.MinInt64 && y == -1
			r = x / y
		}
	}
	if overflow {
		e.errorf(posOf(opTok.Pos), "integer overflow in %d %s %d", x, opTok.Value, y)
		return nil
	}
	return &Value{Kind: Int, Pos: pos, Int: r}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func (e *evaluator) typeError(opTok lexer.Token, a, b *Value, want string) *Value {
	e.errorf(posOf(opTok.Pos), "invalid operation: %s %s %s (%s needs %s)", a.Describe(), opTok.Value, b.Describe(), opTok.Value, want)
	return nil
}

// unary applies a prefix operator.
func (e *evaluator) unary(opTok lexer.Token, v *Value) *Value {
	if v.Kind == Operator {
		return &Value{Kind: Operator, Pos: posOf(opTok.Pos), Str: opTok.Value, List: []*Value{v}}
	}
	switch {
	case opTok.Value == "!" && v.Kind == Bool:
		return &Value{Kind: Bool, Pos: posOf(opTok.Pos), Bool: !v.Bool}
	case opTok.Value == "-" && v.Kind == Int:
		if v.Int == math.MinInt64 {
			e.errorf(posOf(opTok.Pos), "integer overflow in -%d", v.Int)
			return nil
		}
		return &Value{Kind: Int, Pos: posOf(opTok.Pos), Int: -v.Int}
	case opTok.Value == "-" && v.Kind == Float:
		return &Value{Kind: Float, Pos: posOf(opTok.Pos), Float: -v.Float}
	}
	want := "a number"
	if opTok.Value == "!" {
		want = "a bool"
	}
	e.errorf(posOf(opTok.Pos), "invalid operation: %s%s (%s needs %s)", opTok.Value, v.Describe(), opTok.Value, want)
	return nil
}

func numeric(v *Value) bool { return v.Kind == Int || v.Kind == Float }

func toFloat(v *Value) float64 {
	if v.Kind == Int {
		return float64(v.Int)
	}
	return v.Float
}

// compare orders two numbers or two strings.
func compare(a, b *Value) (int, bool) {
	switch {
	case numeric(a) && numeric(b):
		if a.Kind == Int && b.Kind == Int {
			return cmpInt(a.Int, b.Int), true
		}
		x, y := toFloat(a), toFloat(b)
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case a.Kind == String && b.Kind == String:
		switch {
		case a.Str < b.Str:
			return -1, true
		case a.Str > b.Str:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equal compares two values deeply; numbers compare by value (1 == 1.0).
func equal(a, b *Value) bool {
	if numeric(a) && numeric(b) {
		c, _ := compare(a, b)
		return c == 0
	}
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case Null:
		return true
	case Bool:
		return a.Bool == b.Bool
	case String:
		return a.Str == b.Str
	case Range:
		return a.Int == b.Int && a.Max == b.Max
	case Array:
		if len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	case Object:
		if a.Obj.Len() != b.Obj.Len() {
			return false
		}
		for _, m := range a.Obj.Members() {
			o := b.Obj.Get(m.Key)
			if o == nil || !equal(m.Value, o) {
				return false
			}
		}
		return true
	}
	return false
}

// Equal reports whether two values are equal: same kinds (numbers compare
// by value), same scalars, same keys in the same order with equal values.
// Positions are ignored.
func Equal(a, b *Value) bool {
	if a.Kind == Object && b.Kind == Object {
		am, bm := a.Obj.Members(), b.Obj.Members()
		if len(am) != len(bm) {
			return false
		}
		for i := range am {
			if am[i].Key != bm[i].Key || !Equal(am[i].Value, bm[i].Value) {
				return false
			}
		}
		return true
	}
	if a.Kind == Array && b.Kind == Array || a.Kind == Operator && b.Kind == Operator {
		if a.Str != b.Str || len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !Equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	}
	return a.Kind == b.Kind && equal(a, b)
}
