// Package tsk evaluates TuskLang documents and decodes them into Go values.
//
// Load (or a Loader, for a custom environment, clock or file system) parses
// a file with package parser, evaluates it (variables, expressions, @env,
// @date, #include, @file.tsk.get) into an ordered tree of Values, and
// reports every problem as a Diagnostic with its FILE:LINE:COL. Lookup
// reads one value by its dotted path; Decode fills a Go struct through
// `tsk:"name"` tags, strictly: unknown keys, wrong types and missing
// required keys are diagnostics too.
//
//	doc, err := tsk.Load("platform.tsk")
//	if err != nil {
//		log.Fatal(err) // one FILE:LINE:COL: message per line
//	}
//	var cfg Config
//	if err := doc.Decode(&cfg); err != nil { ... }
package tsk

import (
	"os"
	"path/filepath"
	"time"

	"github.com/tuskcompose/composer/parser"
)

// Loader loads documents. The zero value reads files from disk, the
// process environment and the wall clock; tests set the fields. A Loader
// may be used by several goroutines at once.
type Loader struct {
	// LookupEnv reads an environment variable (default os.LookupEnv).
	LookupEnv func(name string) (string, bool)
	// Now is the clock of @date (default time.Now).
	Now func() time.Time
	// ReadFile reads a source file (default os.ReadFile).
	ReadFile func(path string) ([]byte, error)
	// Cache, when set, keeps what each file's last load made, so that
	// loading a file again parses and evaluates only the statements
	// that changed (a reload, an editor's change).
	Cache *Cache
}

// Document is an evaluated TuskLang document.
type Document struct {
	// Root is the document's top-level object.
	Root *Value
	// Files lists every file the document was built from: the main file
	// first, then included files and files read by @file.tsk.get, in the
	// order they were first read. A file that could not be read is listed
	// too (hot reload watches for it to appear).
	Files []string
	memo  *Memo             // see Memo
	canon map[*Value]*Value // see Canonical
}

// Lookup returns the value at a dotted path, or nil when there is none.
func (d *Document) Lookup(path string) *Value { return d.Root.Lookup(path) }

// Load loads the file at path with the default Loader.
func Load(path string) (*Document, error) { return (&Loader{}).Load(path) }

// Load reads, parses and evaluates the file at path. The error, when not
// nil, is a Diagnostics listing every problem found. The Document is
// returned in every case: after an error it holds what could be evaluated
// and, always, the complete list of Files.
func (l *Loader) Load(path string) (*Document, error) {
	r := l.newRun()
	src, err := r.read(path)
	if err != nil {
		r.diags = append(r.diags, Diagnostic{Pos: Pos{Filename: path}, Msg: err.Error()})
		return &Document{Root: newObject(Pos{Filename: path}), Files: r.files}, r.diags
	}
	return r.document(path, src)
}

// LoadBytes evaluates src as if it had been read from a file called name;
// relative #include and @file.tsk.get paths are resolved from name's
// directory.
func (l *Loader) LoadBytes(name string, src []byte) (*Document, error) {
	r := l.newRun()
	r.files = append(r.files, name)
	r.seen[filepath.Clean(name)] = true
	return r.document(name, src)
}

func (l *Loader) newRun() *run {
	r := &run{
		lookupEnv: l.LookupEnv,
		now:       l.Now,
		readFile:  l.ReadFile,
		cache:     l.Cache,
		seen:      map[string]bool{},
		cross:     map[string]*Value{},

		crossFailed: map[string]bool{},
	}
	if r.lookupEnv == nil {
		r.lookupEnv = os.LookupEnv
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.readFile == nil {
		r.readFile = os.ReadFile
	}
	return r
}

// run is the state of one Load: the files read and the problems found.
type run struct {
	lookupEnv func(string) (string, bool)
	now       func() time.Time
	readFile  func(string) ([]byte, error)
	cache     *Cache

	files   []string
	seen    map[string]bool
	diags   Diagnostics
	loading []string          // files being evaluated, outermost first
	cross   map[string]*Value // roots of files read by @file.tsk.get
	// crossFailed marks the files of cross that had problems of their own.
	crossFailed map[string]bool
	// canon maps a moved copy of a kept value to the value it stands for
	// (see Document.Canonical).
	canon map[*Value]*Value
}

// setCanonical records that v stands for canon.
func (r *run) setCanonical(v, canon *Value) {
	if r.canon == nil {
		r.canon = map[*Value]*Value{}
	}
	r.canon[v] = canon
}

// canonical is Document.Canonical during the run.
func (r *run) canonical(v *Value) *Value {
	if c, ok := r.canon[v]; ok {
		return c
	}
	return v
}

// read reads a file and records it in the document's file list.
func (r *run) read(path string) ([]byte, error) {
	clean := filepath.Clean(path)
	if !r.seen[clean] {
		r.seen[clean] = true
		r.files = append(r.files, path)
	}
	return r.readFile(path)
}

func (r *run) document(name string, src []byte) (*Document, error) {
	var memo *Memo
	if r.cache != nil {
		memo = &r.cache.later
		memo.turn()
	}
	root := r.evalFile(name, src)
	doc := &Document{Root: root, Files: r.files, memo: memo, canon: r.canon}
	if len(r.diags) > 0 {
		return doc, r.diags.Sort()
	}
	return doc, nil
}

// evalFile parses and evaluates one file into a new document root.
func (r *run) evalFile(name string, src []byte) *Value {
	r.loading = append(r.loading, filepath.Clean(name))
	defer func() { r.loading = r.loading[:len(r.loading)-1] }()
	// Statements are evaluated piece by piece while the next pieces are
	// being parsed. After a syntax error, the evaluation starts over on the
	// recovered tree, so that its other problems are reported too.
	mark := len(r.diags)
	memo, done := r.cache.memo(filepath.Clean(name), src)
	defer done()
	e := newEvaluator(r, name)
	e.memo = memo
	file, diags, streamed := parser.ParseMoved(name, src, func(items []*parser.Item, m parser.Moved) { e.statements(items, m) }, r.cache.parser())
	if !streamed {
		r.diags = r.diags[:mark]
		r.cross = map[string]*Value{} // their diagnostics were dropped too
		r.crossFailed = map[string]bool{}
		if memo != nil {
			clear(memo.next)
		}
		e = newEvaluator(r, name)
		e.memo = memo
		e.statements(file.Items, parser.Moved{})
	}
	r.diags = append(r.diags, syntax(diags)...)
	return e.root
}

func newEvaluator(r *run, name string) *evaluator {
	root := newObject(Pos{Filename: name, Line: 1, Column: 1})
	return &evaluator{r: r, vars: map[string]*Value{}, root: root, file: name, scopes: []*Value{root}}
}

func newObject(pos Pos) *Value { return &Value{Kind: Object, Pos: pos, Obj: NewMap()} }
