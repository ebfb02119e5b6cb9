package tsk

import (
	"sync"
	"sync/atomic"

	"github.com/tuskcompose/composer/parser"
)

// Cache keeps what the last load of each file made, so that loading it
// again after a change costs what the change touched: its parse, piece by
// piece (parser.Cache), and the values of its top-level statements that
// depend on nothing but their own text (a service's block of literals:
// no variable, interpolation, bare name of an earlier key outside the
// statement, @env, @date, var(), @file.tsk.get or #include, and no
// problem). A statement of the same text as one of the last load takes
// that one's value, moved with it when its lines moved. Safe for
// concurrent use; the values it hands out are shared by the documents
// that hold them, and read-only as all values are (the evaluator copies
// one before it merges a reopened block or section into it).
type Cache struct {
	parse *parser.Cache
	later Memo // see Memo
	mu    sync.Mutex
	evals map[string]*evalMemo
	hits  atomic.Int64 // statements taken from a memo (tests read it)
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	c := &Cache{parse: parser.NewCache(), evals: map[string]*evalMemo{}}
	c.later.tables = map[string]table{}
	return c
}

// evalMemo is the values of one file's top-level statements, by their
// text: a statement that reads nothing beyond its text has the value its
// text had at the last load, wherever it is now, and whether the parse
// handed its tree out again (a piece it moved with) or made it again
// (a piece an edit touched elsewhere).
type evalMemo struct {
	mu   sync.Mutex            // held by the evaluation of the file's statements
	src  []byte                // the text being evaluated
	last map[textKey]keptValue // the last evaluation's
	next map[textKey]keptValue // this evaluation's
	hits *atomic.Int64
}

// textKey is a statement's text, hashed.
type textKey [2]uint64

// keptValue is a statement's value with its positions where the
// statement was (at, its first token: a line and column), and the value
// it stands for (canon: the first made of its text; see
// Document.Canonical).
type keptValue struct {
	v, canon *Value
	at       Pos
}

// memo returns the memo of a file's statements, locked, and done, which
// keeps this evaluation's values as the ones to reuse and unlocks it. A
// file being evaluated already (by another load) is evaluated without
// the memo: m is nil. A nil Cache has no memo.
func (c *Cache) memo(file string, src []byte) (m *evalMemo, done func()) {
	if c == nil {
		return nil, func() {}
	}
	c.mu.Lock()
	m = c.evals[file]
	if m == nil {
		m = &evalMemo{hits: &c.hits}
		c.evals[file] = m
	}
	c.mu.Unlock()
	if !m.mu.TryLock() {
		return nil, func() {}
	}
	m.src, m.next = src, make(map[textKey]keptValue, len(m.last))
	return m, func() {
		m.last, m.next, m.src = m.next, nil, nil
		m.mu.Unlock()
	}
}

// parser returns the parse cache (nil for a nil Cache).
func (c *Cache) parser() *parser.Cache {
	if c == nil {
		return nil
	}
	return c.parse
}

// Memo keeps, between loads, results that the stages after evaluation
// compute from a document's values, in tables (see TableOf): decoding
// keeps a map entry's Go value by the content its Value stands for
// (Document.Canonical), and a program keeps its own (the composer
// resolves and checks a service by its decoded value). A key holds
// everything its result depends on; the values a load hands out again
// (see Cache) are what make keys of the next load equal to this one's.
// A table keeps the entries of the last two loads that used it; a nil
// *Memo keeps nothing. Safe for concurrent use.
type Memo struct {
	mu     sync.Mutex
	tables map[string]table
	loads  int // counts the loads; a table turns at its first use in a load
}

type table interface{ turn(load int) }

// Table is one stage's results by key; see Memo.
type Table[K comparable, V any] struct {
	mu      sync.Mutex
	load    int // the load being made
	entries map[K]*entry[V]
	hits    int // the Gets that found a result
}

type entry[V any] struct {
	v    V
	load int // the last load that used it
}

// TableOf returns the memo's table called name (the same name must
// always be used with the same types), or nil for a nil memo.
func TableOf[K comparable, V any](m *Memo, name string) *Table[K, V] {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, _ := m.tables[name].(*Table[K, V])
	if t == nil {
		t = &Table[K, V]{entries: map[K]*entry[V]{}, load: m.loads}
		m.tables[name] = t
	}
	t.turn(m.loads)
	return t
}

// turn starts load: the entries that neither the last load nor this
// one used go.
func (t *Table[K, V]) turn(load int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.load == load {
		return
	}
	for k, e := range t.entries {
		if e.load < t.load {
			delete(t.entries, k)
		}
	}
	t.load = load
}

// Get returns the result kept for k.
func (t *Table[K, V]) Get(k K) (V, bool) {
	if t == nil {
		var zero V
		return zero, false
	}
	t.mu.Lock()
	e := t.entries[k]
	if e != nil {
		e.load = t.load
		t.hits++
	}
	t.mu.Unlock()
	if e == nil {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Hits counts the Gets that found a result, since the table was made.
func (t *Table[K, V]) Hits() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hits
}

// Put keeps v as the result for k.
func (t *Table[K, V]) Put(k K, v V) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.entries[k] = &entry[V]{v, t.load}
	t.mu.Unlock()
}

// turn starts a load.
func (m *Memo) turn() {
	m.mu.Lock()
	m.loads++
	m.mu.Unlock()
}

// Memo returns the memo of the cache the document was loaded with (nil
// for a load without one).
func (d *Document) Memo() *Memo { return d.memo }

// Canonical returns the value that v stands for as far as its content
// goes: v, or, for a value of a statement that moved in the text since
// the memo kept it, the value first made of that text. Values with the
// same canonical value hold the same content at different positions, so
// that the stages after evaluation can key what they keep by it and take
// positions from v. Nil stays nil.
func (d *Document) Canonical(v *Value) *Value {
	if c, ok := d.canon[v]; ok {
		return c
	}
	return v
}
