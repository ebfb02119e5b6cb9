package parser

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/alecthomas/participle/v2/lexer"
)

// Cache keeps what the last parse of each file made, piece by piece (the
// runs of top-level statements that are parsed in parallel): a piece
// whose tokens are those of a piece of the last parse is not parsed
// again, its tree is copied with its positions moved to where the piece
// is now. A reload of a big platform file, or an editor's change, then
// parses what changed. The trees a parse returns are read-only: the
// cache hands them out again. Safe for concurrent use; a file is parsed
// by one caller at a time.
type Cache struct {
	mu    sync.Mutex
	files map[string]*fileCache
	hits  atomic.Int64 // pieces taken from the cache (tests read it)
	kept  atomic.Int64 // blocks of tokens taken from the last lexing (tests read it)
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{files: map[string]*fileCache{}} }

type fileCache struct {
	mu     sync.Mutex                // held by the parse of the file
	pieces map[pieceKey]*cachedPiece // the last parse's
	nextMu sync.Mutex                // the parse's goroutines record under it
	next   map[pieceKey]*cachedPiece // this parse's
	hits   *atomic.Int64
	kept   *atomic.Int64
	lex    *lexed // the last lexing (under mu)
}

type pieceKey [2]uint64

type cachedPiece struct {
	base  lexer.Position // of the piece's first token
	items []*Item
}

var seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// file returns the entry of a file, locked; done unlocks it and keeps
// this parse's pieces as the ones to reuse next time. A file being parsed
// already (by another caller, or by this one: a file that reads itself
// with @file.tsk.get while it is evaluated) is parsed without the cache:
// fc is nil.
func (c *Cache) file(name string) (fc *fileCache, done func(ok bool)) {
	c.mu.Lock()
	fc = c.files[name]
	if fc == nil {
		fc = &fileCache{}
		c.files[name] = fc
	}
	c.mu.Unlock()
	if !fc.mu.TryLock() {
		return nil, func(bool) {}
	}
	fc.hits, fc.kept = &c.hits, &c.kept
	fc.next = map[pieceKey]*cachedPiece{}
	return fc, func(ok bool) {
		if ok {
			fc.pieces = fc.next
		}
		fc.next = nil
		fc.mu.Unlock()
	}
}

// key is what a piece's tree depends on but where the piece is: its
// text, from its first token to the next piece's (src[start:end]). A
// piece starts a top-level statement, where the lexer has no context, so
// the same text makes the same tokens at the same places relative to the
// first: two pieces with one key differ only by a shift of the whole
// (shift).
func key(src string, start, end int) pieceKey {
	var out pieceKey
	for i, seed := range seeds {
		out[i] = maphash.String(seed, src[start:end])
	}
	return out
}

// lookup returns the tree of a piece parsed before with the same tokens
// (nil when there is none), as it was parsed, and how far the piece moved
// since; it records the piece for the next parse. Called during the
// file's parse (fc.mu held), from its goroutines.
func (fc *fileCache) lookup(k pieceKey, base lexer.Position) ([]*Item, Moved) {
	c := fc.pieces[k]
	if c == nil {
		return nil, Moved{}
	}
	fc.hits.Add(1)
	var m Moved
	if s := (shift{off: base.Offset - c.base.Offset, line: base.Line - c.base.Line, col: base.Column - c.base.Column, firstLine: c.base.Line}); s.off != 0 || s.line != 0 || s.col != 0 {
		m = Moved{s}
	}
	fc.record(k, c.base, c.items)
	return c.items, m
}

// Moved is how far a piece of a cached parse moved since its tree was
// made: its offsets and lines by a delta, and the columns of its first
// line (the piece's start may have moved in its line). The zero Moved
// moves nothing.
type Moved struct{ s shift }

// Zero reports whether m moves nothing.
func (m Moved) Zero() bool { return m.s.off == 0 && m.s.line == 0 && m.s.col == 0 }

// MoveBetween returns the move of a tree whose first token was at from
// to where it is at to: offsets and lines by the difference, the columns
// of its first line too.
func MoveBetween(from, to Pos) Moved {
	return Moved{shift{off: to.Offset - from.Offset, line: to.Line - from.Line, col: to.Column - from.Column, firstLine: from.Line}}
}

// Items returns items moved: a copy, unless m is zero.
func (m Moved) Items(items []*Item) []*Item {
	if m.Zero() {
		return items
	}
	return m.s.items(items)
}

// Item returns one item of the piece moved: a copy, unless m is zero.
func (m Moved) Item(it *Item) *Item {
	if m.Zero() {
		return it
	}
	return m.s.items([]*Item{it})[0]
}

// Pos returns p, a position of the piece's tree as made, moved.
func (m Moved) Pos(p Pos) Pos {
	if m.Zero() || p.Line == 0 {
		return p
	}
	return Pos(m.s.tok(lexer.Token{Pos: lexer.Position(p)}).Pos)
}

// record keeps a piece's tree for the next parse.
func (fc *fileCache) record(k pieceKey, base lexer.Position, items []*Item) {
	fc.nextMu.Lock()
	fc.next[k] = &cachedPiece{base: base, items: items}
	fc.nextMu.Unlock()
}

// shift moves positions: offsets and lines by a delta, and the columns
// of the piece's first line (the piece's own start may have moved in its
// line).
type shift struct{ off, line, col, firstLine int }

func (s shift) tok(t lexer.Token) lexer.Token {
	if t.Pos.Line == 0 {
		return t // a token the grammar did not set
	}
	if t.Pos.Line == s.firstLine {
		t.Pos.Column += s.col
	}
	t.Pos.Offset += s.off
	t.Pos.Line += s.line
	return t
}

func (s shift) items(in []*Item) []*Item {
	if in == nil {
		return nil
	}
	out := make([]*Item, len(in))
	for i, it := range in {
		n := &Item{}
		switch {
		case it.Pairs != nil:
			t := s.tok(*it.Pairs)
			n.Pairs = &t
		case it.Entry != nil:
			n.Entry = s.entry(it.Entry)
		case it.VarDef != nil:
			n.VarDef = &VarDef{Name: s.tok(it.VarDef.Name), Value: s.expr(it.VarDef.Value)}
		case it.Section != nil:
			sec := &Section{Open: s.tok(it.Section.Open), Close: s.tok(it.Section.Close), Path: make([]*PathKey, len(it.Section.Path))}
			for j, p := range it.Section.Path {
				sec.Path[j] = &PathKey{Key: s.tok(p.Key)}
			}
			n.Section = sec
		case it.Include != nil:
			n.Include = &Include{Directive: s.tok(it.Include.Directive), Path: s.tok(it.Include.Path)}
		}
		out[i] = n
	}
	return out
}

func (s shift) entry(e *Entry) *Entry {
	return &Entry{Key: s.tok(e.Key), Value: s.expr(e.Value), Block: s.block(e.Block), Array: s.array(e.Array)}
}

func (s shift) block(b *Block) *Block {
	if b == nil {
		return nil
	}
	return &Block{Open: s.tok(b.Open), Items: s.items(b.Items), Close: s.tok(b.Close)}
}

func (s shift) array(a *Array) *Array {
	if a == nil {
		return nil
	}
	return &Array{Open: s.tok(a.Open), Items: s.exprs(a.Items), Close: s.tok(a.Close)}
}

func (s shift) exprs(in []*Expr) []*Expr {
	if in == nil {
		return nil
	}
	out := make([]*Expr, len(in))
	for i, e := range in {
		out[i] = s.expr(e)
	}
	return out
}

func (s shift) expr(e *Expr) *Expr {
	if e == nil {
		return nil
	}
	n := &Expr{Simple: s.tok(e.Simple), Head: s.primary(e.Head), Then: s.expr(e.Then), Else: s.expr(e.Else)}
	if e.Tail != nil {
		n.Tail = make([]*BinOp, len(e.Tail))
		for i, b := range e.Tail {
			n.Tail[i] = &BinOp{Op: s.tok(b.Op), Right: s.primary(b.Right)}
		}
	}
	return n
}

func (s shift) primary(p *Primary) *Primary {
	if p == nil {
		return nil
	}
	return &Primary{Prefix: s.tok(p.Prefix), Scalar: s.tok(p.Scalar), Call: s.call(p.Call), Array: s.array(p.Array),
		Object: s.block(p.Object), POpen: s.tok(p.POpen), Paren: s.expr(p.Paren), PClose: s.tok(p.PClose)}
}

func (s shift) call(c *Call) *Call {
	if c == nil {
		return nil
	}
	n := &Call{Name: s.tok(c.Name), Args: s.args(c.Args)}
	if c.Chain != nil {
		n.Chain = make([]*Link, len(c.Chain))
		for i, l := range c.Chain {
			n.Chain[i] = &Link{Name: s.tok(l.Name), Args: s.args(l.Args)}
		}
	}
	return n
}

func (s shift) args(a *Args) *Args {
	if a == nil {
		return nil
	}
	return &Args{Open: s.tok(a.Open), Items: s.exprs(a.Items), Close: s.tok(a.Close)}
}
