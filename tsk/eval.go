package tsk

import (
	"fmt"
	"hash/maphash"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/tuskcompose/composer/parser"
)

// evaluator evaluates the statements of one document (a file and the
// files it includes) into its root object.
type evaluator struct {
	r    *run
	vars map[string]*Value
	root *Value
	file string // the file whose statements are being evaluated
	// scopes is the chain of objects from the root to the object that
	// entries are being written into; ${a.b} and var("a.b") search it from
	// the innermost outwards.
	scopes   []*Value
	slab     []Value // see val
	slabSize int
	// Slabs of moveValue's copies (see its helpers).
	maps    []Map
	members []Member
	lists   []*Value

	// memo is the values of e.file's top-level statements from the
	// cache (nil: none); see statements.
	memo *evalMemo
	// pure is cleared, while a top-level statement is evaluated for the
	// memo, by what reads beyond the statement's own text; memoDepth is
	// the length of scopes outside the statement.
	pure      bool
	memoDepth int
	// shared holds the values that a memo holds too: they are copied
	// before a reopened block or section merges into them.
	shared map[*Value]bool
}

// val returns a new value equal to v. Values are allocated in slabs: a
// document's values live and die together.
func (e *evaluator) val(v Value) *Value {
	if len(e.slab) == 0 {
		// Slabs grow with the document, so small ones waste little.
		e.slabSize = min(max(2*e.slabSize, 16), 512)
		e.slab = make([]Value, e.slabSize)
	}
	p := &e.slab[0]
	*p = v
	e.slab = e.slab[1:]
	return p
}

// object returns a new, empty object with room for n keys.
func (e *evaluator) object(pos Pos, n int) *Value {
	return e.val(Value{Kind: Object, Pos: pos, Obj: &Map{members: make([]Member, 0, n)}})
}

func (e *evaluator) errorf(pos Pos, format string, args ...any) {
	e.r.diags = append(e.r.diags, Errorf(pos, format, args...))
}

func (e *evaluator) target() *Value { return e.scopes[len(e.scopes)-1] }

// statements evaluates top-level statements of e.file into the current
// target: a piece of the parse, whose tree moved by m since the parse
// cache made it (see parser.ParseMoved). An entry that sets a new key
// takes its value from the memo when the memo has its statement (the
// parse handed the same tree out again), moved as the statement moved,
// and leaves its value to the memo when it read nothing beyond its own
// text and had no problem.
func (e *evaluator) statements(items []*parser.Item, m parser.Moved) {
	if e.memo == nil {
		e.items(m.Items(items))
		return
	}
	for i, it := range items {
		if it.Include != nil {
			e.include(m.Item(it).Include, true)
			continue
		}
		if it.Entry == nil {
			e.items([]*parser.Item{m.Item(it)})
			continue
		}
		key, t := keyText(it.Entry.Key), e.target()
		if t.Obj.Get(key) != nil { // merges, or replaces: depends on what is there
			e.entry(m.Item(it).Entry)
			continue
		}
		tk, at := e.memo.key(items, i, m)
		if kept, ok := e.memo.last[tk]; ok {
			e.memo.hits.Add(1)
			v, moved := kept.v, parser.MoveBetween(kept.at, at) // both without offsets
			if _, placed := e.memo.next[tk]; placed || !moved.Zero() {
				// Moved, or a statement of the same text is placed already
				// (its value, or one it was made from): a copy.
				v = e.moveValue(v, moved)
			}
			if v != kept.canon {
				e.r.setCanonical(v, kept.canon)
			}
			t.Obj.Set(key, at, v)
			e.keep(tk, at, v, kept.canon)
			continue
		}
		mark := len(e.r.diags)
		e.pure, e.memoDepth = true, len(e.scopes)
		e.entry(m.Item(it).Entry)
		pure := e.pure
		e.pure = false
		if v := t.Obj.Get(key); pure && v != nil && len(e.r.diags) == mark {
			e.keep(tk, at, v, e.r.canonical(v))
		}
	}
}

// key is the text key of top-level statement items[i] of the memo's text
// (the tree moved by moved), and the line and column where it starts. The
// text runs to the next statement's start (the separators and comments
// after it are in it: the same text still makes the same value), or to
// the statement's end for the last of items (the next is in another
// piece), which spares reading every statement's last token.
func (m *evalMemo) key(items []*parser.Item, i int, moved parser.Moved) (textKey, Pos) {
	start := moved.Pos(items[i].Pos())
	var end parser.Pos
	if i+1 < len(items) && items[i+1].Pos().Line > 0 {
		end = moved.Pos(items[i+1].Pos())
	} else {
		end = moved.Pos(items[i].End())
	}
	text := m.src[max(0, min(start.Offset, len(m.src))):max(0, min(end.Offset, len(m.src)))]
	return textKey{maphash.Bytes(textSeeds[0], text), maphash.Bytes(textSeeds[1], text)}, lineCol(start)
}

var textSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// moveValue returns a copy of v, a value the memo keeps, with its
// positions moved by d, a move of lines and columns (see Pos); the
// caller records what the copy stands for.
func (e *evaluator) moveValue(v *Value, d parser.Moved) *Value {
	c := e.val(*v)
	c.Pos, c.End = d.Pos(v.Pos), d.Pos(v.End)
	if v.List != nil {
		c.List = e.listOf(len(v.List))
		for i, x := range v.List {
			c.List[i] = e.moveValue(x, d)
		}
	}
	if v.Obj != nil {
		c.Obj = e.mapOf(len(v.Obj.members))
		c.Obj.index = v.Obj.index
		if v.Obj.members == nil {
			c.Obj.members = nil // as made: an empty object's nil
		}
		for i, mem := range v.Obj.members {
			c.Obj.members[i] = Member{Key: mem.Key, KeyPos: d.Pos(mem.KeyPos), Value: e.moveValue(mem.Value, d)}
		}
	}
	if v.Chain != nil {
		c.Chain = make([]Call, len(v.Chain))
		for i, call := range v.Chain {
			c.Chain[i] = Call{Name: call.Name}
			if call.Args != nil {
				c.Chain[i].Args = e.listOf(len(call.Args))
			}
			for j, a := range call.Args {
				c.Chain[i].Args[j] = e.moveValue(a, d)
			}
		}
	}
	return c
}

// moveSlab is the size of the slabs that moveValue's maps, members and
// lists are cut from: a moved statement is copied whole, often with
// thousands of others (a line break near the start of a big file).
const moveSlab = 1024

// mapOf returns a new map with n members (to be set), cut from a slab.
// Its members are full: a Set appends to a new array.
func (e *evaluator) mapOf(n int) *Map {
	if len(e.maps) == 0 {
		e.maps = make([]Map, moveSlab/8)
	}
	m := &e.maps[0]
	e.maps = e.maps[1:]
	if n == 0 {
		m.members = []Member{}
		return m
	}
	if n > len(e.members) {
		e.members = make([]Member, max(n, moveSlab))
	}
	m.members, e.members = e.members[:n:n], e.members[n:]
	return m
}

// listOf returns a new list of n values (to be set), cut from a slab and
// full, like mapOf's members.
func (e *evaluator) listOf(n int) []*Value {
	if n == 0 {
		return []*Value{} // empty, not nil (as made)
	}
	if n > len(e.lists) {
		e.lists = make([]*Value, max(n, moveSlab))
	}
	l := e.lists[:n:n]
	e.lists = e.lists[n:]
	return l
}

// keep records v, which stands for canon, as the value of the top-level
// statement of text key tk, placed at at.
func (e *evaluator) keep(tk textKey, at Pos, v, canon *Value) {
	e.memo.next[tk] = keptValue{v: v, canon: canon, at: at}
	if e.shared == nil {
		e.shared = map[*Value]bool{}
	}
	e.shared[v] = true
}

// own returns the object at key of cur, copied first (and put in its
// place) when a memo holds it too: it is about to be merged into.
func (e *evaluator) own(cur *Value, key string) *Value {
	mem := cur.Obj.Member(key)
	if mem == nil {
		return nil
	}
	if v := mem.Value; v.Kind == Object && e.shared[v] {
		mem.Value = clone(v)
	}
	return mem.Value
}

// items evaluates a statement list into the current target.
func (e *evaluator) items(items []*parser.Item) {
	for _, it := range items {
		switch {
		case it.Entry != nil:
			e.entry(it.Entry)
		case it.VarDef != nil:
			e.pure = false // sets a variable for what follows
			if v := e.expr(it.VarDef.Value); v != nil {
				e.vars[it.VarDef.Name.Value[1:]] = v
			}
		case it.Section != nil:
			e.section(it.Section)
		case it.Include != nil:
			e.include(it.Include, false)
		}
	}
}

// section makes [a.b] the current target, creating objects on the way.
func (e *evaluator) section(s *parser.Section) {
	scopes := []*Value{e.root}
	cur := e.root
	for _, pk := range s.Path {
		k := pk.Key
		name := keyText(k)
		next := e.own(cur, name)
		if next == nil {
			next = newObject(posOf(k.Pos))
			cur.Obj.Set(name, posOf(k.Pos), next)
		} else if next.Kind != Object {
			e.errorf(posOf(k.Pos), "section [%s]: %q is already a %s (set at %s), not an object", sectionName(s), name, next.Kind, shortPos(next.Pos))
			return
		}
		cur = next
		scopes = append(scopes, cur)
	}
	e.scopes = scopes
}

func sectionName(s *parser.Section) string {
	names := make([]string, len(s.Path))
	for i, k := range s.Path {
		names[i] = keyText(k.Key)
	}
	return strings.Join(names, ".")
}

func shortPos(p Pos) string {
	return fmt.Sprintf("%s:%d:%d", filepath.Base(p.Filename), p.Line, p.Column)
}

// keyText returns a key token's name: quoted keys are decoded.
func keyText(t lexer.Token) string {
	if c := t.Value[0]; c == '"' || c == '\'' {
		return parser.StringText(t.Value)
	}
	return t.Value
}

func (e *evaluator) entry(en *parser.Entry) {
	key := keyText(en.Key)
	switch {
	case en.Block != nil:
		e.block(key, posOf(en.Key.Pos), en.Block.Items)
		setEnd(e.target().Obj.Get(key), posOf(en.Key.Pos), en.Block.End())
	case en.Array != nil:
		if v := e.array(en.Array); v != nil {
			setEnd(v, posOf(en.Array.Open.Pos), en.Array.End())
			e.target().Obj.Set(key, posOf(en.Key.Pos), v)
		}
	case isObjectLiteral(en.Value):
		// key: { ... } means the same as key { ... }.
		e.block(key, posOf(en.Key.Pos), en.Value.Head.Object.Items)
	default:
		if v := e.expr(en.Value); v != nil {
			setEnd(v, en.Value.Pos(), en.Value.End())
			e.target().Obj.Set(key, posOf(en.Key.Pos), v)
		}
	}
}

// setEnd records where v's text ends, when v was written at start (not
// read through a variable, whose value is written elsewhere).
func setEnd(v *Value, start, end Pos) {
	if v != nil && v.End.Line == 0 && v.Pos == lineCol(start) {
		v.End = lineCol(end)
	}
}

func isObjectLiteral(x *parser.Expr) bool {
	return x.Head != nil && x.Head.Object != nil && x.Head.Prefix.Type == 0 && len(x.Tail) == 0 && x.Then == nil
}

// block evaluates a block into the object at key, merging into an object
// already there (reopened blocks and sections merge).
func (e *evaluator) block(key string, pos Pos, items []*parser.Item) {
	t := e.target()
	obj := e.own(t, key)
	if obj == nil || obj.Kind != Object {
		obj = e.object(pos, len(items))
	}
	t.Obj.Set(key, pos, obj)
	e.scopes = append(e.scopes, obj)
	e.items(items)
	e.scopes = e.scopes[:len(e.scopes)-1]
}

// include evaluates another file's statements at this point; top tells
// an #include among top-level statements (the file's statements are
// then top-level ones too, with its memo).
func (e *evaluator) include(inc *parser.Include, top bool) {
	tok := inc.Path
	if k := parser.ScalarKind(tok.Value); k != parser.KindString && k != parser.KindRawString {
		e.errorf(posOf(tok.Pos), "#include needs a quoted file name, got %s", tok.Value)
		return
	}
	path := e.resolve(parser.StringText(tok.Value))
	clean := filepath.Clean(path)
	if i := slices.Index(e.r.loading, clean); i >= 0 {
		e.errorf(posOf(tok.Pos), "include cycle: %s", cycle(e.r.loading[i:], clean))
		return
	}
	src, err := e.r.read(path)
	if err != nil {
		e.errorf(posOf(tok.Pos), "#include: %v", err)
		return
	}
	type piece struct {
		items []*parser.Item
		m     parser.Moved
	}
	var pieces []piece
	file, diags, streamed := parser.ParseMoved(path, src, func(items []*parser.Item, m parser.Moved) {
		pieces = append(pieces, piece{items, m})
	}, e.r.cache.parser())
	if !streamed {
		pieces = []piece{{items: file.Items}}
	}
	e.r.diags = append(e.r.diags, syntax(diags)...)
	saved, savedFile, savedMemo, savedDepth := e.scopes, e.file, e.memo, e.memoDepth
	memo, done := e.r.cache.memo(clean, src)
	e.file, e.memo = path, memo
	e.r.loading = append(e.r.loading, clean)
	for _, p := range pieces {
		if top {
			e.statements(p.items, p.m)
		} else {
			e.items(p.m.Items(p.items))
		}
	}
	done()
	e.r.loading = e.r.loading[:len(e.r.loading)-1]
	e.scopes, e.file, e.memo, e.memoDepth = saved, savedFile, savedMemo, savedDepth
	e.pure = false // what the statement holds comes from another file
}

func cycle(stack []string, again string) string {
	parts := make([]string, 0, len(stack)+1)
	for _, f := range stack {
		parts = append(parts, filepath.Base(f))
	}
	return strings.Join(append(parts, filepath.Base(again)), " -> ")
}

// resolve makes a path relative to the current file's directory.
func (e *evaluator) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(e.file), p)
}

func (e *evaluator) array(a *parser.Array) *Value {
	v := e.val(Value{Kind: Array, Pos: posOf(a.Open.Pos), List: make([]*Value, 0, len(a.Items))})
	ok := true
	for _, x := range a.Items {
		item := e.expr(x)
		if item == nil {
			ok = false
			continue
		}
		setEnd(item, x.Pos(), x.End())
		v.List = append(v.List, item)
	}
	if !ok {
		return nil
	}
	return v
}

// expr evaluates an expression. It returns nil after reporting an error.
func (e *evaluator) expr(x *parser.Expr) *Value {
	if x.Simple.Type != 0 {
		return e.scalar(x.Simple)
	}
	var v *Value
	if len(x.Tail) == 0 {
		v = e.primary(x.Head)
	} else {
		v = e.binary(buildTree(x.Head, x.Tail))
	}
	if v == nil || x.Then == nil {
		return v
	}
	switch v.Kind {
	case Bool:
		if v.Bool {
			return e.expr(x.Then)
		}
		return e.expr(x.Else)
	case Operator:
		a, b := e.expr(x.Then), e.expr(x.Else)
		if a == nil || b == nil {
			return nil
		}
		return &Value{Kind: Operator, Pos: v.Pos, Str: "?:", List: []*Value{v, a, b}}
	}
	e.errorf(v.Pos, "the condition of ? : must be a bool, got %s", v.Describe())
	return nil
}

// primary evaluates an operand and applies its prefixes.
func (e *evaluator) primary(p *parser.Primary) *Value {
	var v *Value
	prefix := p.Prefix
	switch {
	case p.Scalar.Type != 0 && strings.HasSuffix(prefix.Value, "-") && parser.ScalarKind(p.Scalar.Value) == parser.KindInt:
		// -9223372036854775808 fits only with its sign.
		n, err := strconv.ParseInt("-"+p.Scalar.Value, 0, 64)
		if err != nil {
			e.errorf(posOf(prefix.Pos), "integer -%s is out of range (64-bit)", p.Scalar.Value)
			return nil
		}
		v = &Value{Kind: Int, Pos: posOf(prefix.Pos), Int: n}
		prefix.Value = prefix.Value[:len(prefix.Value)-1]
	case p.Scalar.Type != 0:
		v = e.scalar(p.Scalar)
	case p.Call != nil:
		v = e.call(p.Call)
	case p.Array != nil:
		v = e.array(p.Array)
	case p.Object != nil:
		obj := e.object(posOf(p.Object.Open.Pos), len(p.Object.Items))
		e.scopes = append(e.scopes, obj)
		e.items(p.Object.Items)
		e.scopes = e.scopes[:len(e.scopes)-1]
		v = obj
	case p.Paren != nil:
		v = e.expr(p.Paren)
	}
	for i := len(prefix.Value) - 1; i >= 0 && v != nil; i-- {
		op := prefix
		op.Value = op.Value[i : i+1]
		v = e.unary(op, v)
	}
	return v
}

// scalar evaluates a scalar token.
func (e *evaluator) scalar(t lexer.Token) *Value {
	switch parser.ScalarKind(t.Value) {
	case parser.KindWord:
		return e.val(Value{Kind: String, Pos: posOf(t.Pos), Str: t.Value})
	case parser.KindIdent:
		switch t.Value {
		case "true", "TRUE":
			return e.val(Value{Kind: Bool, Pos: posOf(t.Pos), Bool: true})
		case "false", "FALSE":
			return e.val(Value{Kind: Bool, Pos: posOf(t.Pos)})
		case "null", "NULL":
			return e.val(Value{Kind: Null, Pos: posOf(t.Pos)})
		}
		// A bare name of an earlier key of the same block refers to it.
		if len(e.scopes) <= e.memoDepth {
			e.pure = false // the block is outside the statement
		}
		if ref := e.target().Obj.Get(t.Value); ref != nil {
			return clone(ref)
		}
		return e.val(Value{Kind: String, Pos: posOf(t.Pos), Str: t.Value})
	case parser.KindString, parser.KindRawString, parser.KindMultiString, parser.KindHeredoc:
		return e.str(t)
	case parser.KindInt:
		n, err := strconv.ParseInt(t.Value, 0, 64)
		if err != nil {
			e.errorf(posOf(t.Pos), "integer %s is out of range (64-bit)", t.Value)
			return nil
		}
		return e.val(Value{Kind: Int, Pos: posOf(t.Pos), Int: n})
	case parser.KindFloat:
		f, err := strconv.ParseFloat(strings.ReplaceAll(t.Value, "_", ""), 64)
		if err != nil {
			e.errorf(posOf(t.Pos), "float %s is out of range", t.Value)
			return nil
		}
		return e.val(Value{Kind: Float, Pos: posOf(t.Pos), Float: f})
	case parser.KindRange:
		lo, hi, _ := strings.Cut(t.Value, "-")
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil {
			e.errorf(posOf(t.Pos), "range %s is out of range (64-bit)", t.Value)
			return nil
		}
		if a > b {
			e.errorf(posOf(t.Pos), "range %s: the minimum is greater than the maximum", t.Value)
			return nil
		}
		return e.val(Value{Kind: Range, Pos: posOf(t.Pos), Int: a, Max: b})
	case parser.KindVar:
		e.pure = false
		name := t.Value[1:]
		if v, ok := e.vars[name]; ok {
			return clone(v)
		}
		e.errorf(posOf(t.Pos), "undefined variable $%s%s", name, suggest(name, mapKeys(e.vars), "$"))
		return nil
	}
	return nil
}

// str evaluates a string literal, with its interpolations.
func (e *evaluator) str(t lexer.Token) *Value {
	parts := parser.DecodeString(t.Value)
	if len(parts) == 1 && parts[0].Path == "" {
		return e.val(Value{Kind: String, Pos: posOf(t.Pos), Str: parts[0].Text})
	}
	e.pure = false // interpolates variables or keys
	var b strings.Builder
	v := e.val(Value{Kind: String, Pos: posOf(t.Pos)})
	for _, p := range parts {
		if p.Path == "" {
			b.WriteString(p.Text)
			continue
		}
		pos := lineCol(parser.OffsetPos(parser.PosOf(t.Pos), t.Value, p.Offset))
		ref := e.lookupPath(p.Path)
		if ref == nil && isPlaceholder(p.Path) {
			// ${PORT}: a placeholder for the program (the composer fills
			// it when it starts a process), kept as written.
			b.WriteString("${" + p.Path + "}")
			continue
		}
		if ref == nil {
			e.errorf(pos, "undefined ${%s}: no variable or earlier key has that name%s", p.Path, e.suggestPath(p.Path))
			return nil
		}
		s, ok := ref.Text()
		if !ok {
			e.errorf(pos, "cannot interpolate ${%s}: it is %s", p.Path, article(ref))
			return nil
		}
		v.FromEnv = v.FromEnv || ref.FromEnv
		b.WriteString(s)
	}
	v.Str = b.String()
	return v
}

// isPlaceholder reports whether name is written like an environment
// variable (upper-case letters, digits and _, starting with a letter):
// such an interpolation that names no variable or key stays as written.
func isPlaceholder(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return name != ""
}

func article(v *Value) string {
	switch v.Kind {
	case Array, Object, Operator:
		return "an " + v.Describe()
	case Null:
		return "null"
	}
	return "a " + v.Describe()
}

// lookupPath resolves a variable name or a key path from the innermost
// scope outwards.
func (e *evaluator) lookupPath(path string) *Value {
	if v, ok := e.vars[path]; ok {
		return v
	}
	for i := len(e.scopes) - 1; i >= 0; i-- {
		if v := e.scopes[i].Lookup(path); v != nil {
			return v
		}
	}
	return nil
}

func (e *evaluator) suggestPath(path string) string {
	names := mapKeys(e.vars)
	for _, s := range e.scopes {
		names = append(names, s.Obj.Keys()...)
	}
	return suggest(path, names, "")
}

func mapKeys(m map[string]*Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// clone copies collections, so that merging into a block later does not
// change a value that referred to it.
func clone(v *Value) *Value {
	switch v.Kind {
	case Array, Operator:
		c := *v
		c.List = make([]*Value, len(v.List))
		for i, x := range v.List {
			c.List[i] = clone(x)
		}
		return &c
	case Object:
		c := *v
		c.Obj = NewMap()
		for _, m := range v.Obj.Members() {
			c.Obj.Set(m.Key, m.KeyPos, clone(m.Value))
		}
		return &c
	}
	return v
}

// call evaluates @env, @date, var, @file.tsk.get; every other operator is
// kept as an Operator value.
func (e *evaluator) call(c *parser.Call) *Value {
	raw := c.Name.Value
	name := strings.TrimPrefix(raw, "@")
	var args []*Value
	if c.Args != nil {
		var ok bool
		if args, ok = e.values(c.Args.Items); !ok {
			return nil
		}
	}
	if len(c.Chain) == 0 {
		switch name {
		case "env", "date", "var":
			e.pure = false // reads the environment, the clock or the document
		}
		if strings.HasSuffix(name, ".tsk.get") {
			e.pure = false // reads another file
		}
		switch {
		case name == "env":
			return e.env(c, args)
		case name == "date":
			return e.date(c, args)
		case name == "var":
			return e.varRef(c, args)
		case strings.HasSuffix(name, ".tsk.get") && raw[0] == '@':
			return e.crossGet(c, strings.TrimSuffix(name, ".get"), args)
		}
	}
	if raw[0] != '@' {
		e.errorf(posOf(c.Name.Pos), "unknown function %s(): the functions are env(), var() and date(); operators are written @%s(...)", name, name)
		return nil
	}
	v := &Value{Kind: Operator, Pos: posOf(c.Name.Pos), Str: name, List: args}
	for _, l := range c.Chain {
		call := Call{Name: l.Name.Value}
		if l.Args != nil {
			var ok bool
			if call.Args, ok = e.values(l.Args.Items); !ok {
				return nil
			}
		}
		v.Chain = append(v.Chain, call)
	}
	return v
}

func (e *evaluator) values(xs []*parser.Expr) ([]*Value, bool) {
	out := make([]*Value, 0, len(xs))
	ok := true
	for _, x := range xs {
		v := e.expr(x)
		if v == nil {
			ok = false
			continue
		}
		out = append(out, v)
	}
	return out, ok
}

// stringArgs checks that a call has between min and max arguments and that
// the first is a string.
func (e *evaluator) stringArgs(c *parser.Call, args []*Value, min, max int, usage string) bool {
	if len(args) < min || len(args) > max {
		e.errorf(posOf(c.Name.Pos), "%s takes %s", c.Name.Value, usage)
		return false
	}
	if len(args) > 0 && args[0].Kind != String {
		e.errorf(args[0].Pos, "%s: the first argument must be a string, got %s", c.Name.Value, args[0].Describe())
		return false
	}
	return true
}

// env implements @env("NAME") and @env("NAME", default).
func (e *evaluator) env(c *parser.Call, args []*Value) *Value {
	if !e.stringArgs(c, args, 1, 2, `a variable name and an optional default: @env("NAME", default)`) {
		return nil
	}
	if s, ok := e.r.lookupEnv(args[0].Str); ok {
		return &Value{Kind: String, Pos: posOf(c.Name.Pos), Str: s, FromEnv: true}
	}
	if len(args) == 2 {
		return clone(args[1])
	}
	e.errorf(posOf(c.Name.Pos), "environment variable %s is not set and %s has no default (write %s(%q, default))", args[0].Str, c.Name.Value, c.Name.Value, args[0].Str)
	return nil
}

// date implements @date(format) with PHP's format letters.
func (e *evaluator) date(c *parser.Call, args []*Value) *Value {
	if !e.stringArgs(c, args, 0, 1, `an optional PHP-style format: @date("Y-m-d")`) {
		return nil
	}
	format := "Y-m-d H:i:s"
	if len(args) == 1 {
		format = args[0].Str
	}
	return &Value{Kind: String, Pos: posOf(c.Name.Pos), Str: phpDate(format, e.r.now())}
}

// varRef implements var("name") and var("a.b.c").
func (e *evaluator) varRef(c *parser.Call, args []*Value) *Value {
	if !e.stringArgs(c, args, 1, 1, `one variable name or key path: var("database.host")`) {
		return nil
	}
	if v := e.lookupPath(args[0].Str); v != nil {
		return clone(v)
	}
	e.errorf(args[0].Pos, "%s(%q): no variable or earlier key has that name%s", c.Name.Value, args[0].Str, e.suggestPath(args[0].Str))
	return nil
}

// crossGet implements @file.tsk.get("key.path"): one value of another
// file, evaluated on its own.
func (e *evaluator) crossGet(c *parser.Call, file string, args []*Value) *Value {
	if !e.stringArgs(c, args, 1, 1, `one key path: @other.tsk.get("key.path")`) {
		return nil
	}
	path := e.resolve(file)
	clean := filepath.Clean(path)
	root, ok := e.r.cross[clean]
	if !ok {
		if slices.Contains(e.r.loading, clean) {
			e.errorf(posOf(c.Name.Pos), "%s: cycle: %s", c.Name.Value, cycle(e.r.loading, clean))
			return nil
		}
		src, err := e.r.read(path)
		if err != nil {
			e.errorf(posOf(c.Name.Pos), "%s: %v", c.Name.Value, err)
			e.r.cross[clean] = nil
			return nil
		}
		mark := len(e.r.diags)
		root = e.r.evalFile(path, src)
		e.r.cross[clean] = root
		if len(e.r.diags) > mark {
			e.r.crossFailed[clean] = true
		}
	}
	if root == nil {
		e.errorf(posOf(c.Name.Pos), "%s: %s could not be read", c.Name.Value, file)
		return nil
	}
	if v := root.Lookup(args[0].Str); v != nil {
		return clone(v)
	}
	if e.r.crossFailed[clean] {
		return nil // its own diagnostics explain why the key is missing
	}
	e.errorf(args[0].Pos, "%s: %s has no key %q%s", c.Name.Value, file, args[0].Str, suggest(args[0].Str, root.Obj.Keys(), ""))
	return nil
}

// suggest returns " (did you mean X?)" when a candidate is close to name.
func suggest(name string, candidates []string, prefix string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if d := levenshtein(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(1, len(name)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s%s?)", prefix, best)
}

// Suggest returns the candidate closest to name when it is close enough to
// be a likely typo, or "".
func Suggest(name string, candidates []string) string {
	s := suggest(name, candidates, "")
	if s == "" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, " (did you mean "), "?)")
}

// levenshtein is the edit distance between a and b, where swapping two
// neighbouring letters counts as one edit (optimal string alignment).
func levenshtein(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
