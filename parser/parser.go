// Package parser reads TuskLang (.tsk) source into a syntax tree.
//
// The grammar is written with participle v2 (the struct tags in ast.go);
// the lexer is TuskLang's own (lexer.go), because the language is context
// sensitive: a bare word is a key at the start of a line and a string after a
// colon, a newline ends a statement at top level and separates items inside
// brackets. Every node carries its position, comments are kept for the
// formatter, and syntax errors are collected statement by statement, so one
// run reports all of them as FILE:LINE:COL: message.
package parser

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var (
	fileParser = participle.MustBuild[File](participle.Lexer(lexDefinition{}), participle.UseLookahead(2))
	itemParser = participle.MustBuild[Item](participle.Lexer(lexDefinition{}), participle.UseLookahead(2))
)

// Parse parses one file. It returns the syntax tree and every problem found.
// When there are diagnostics the tree holds the statements that parsed (it is
// never nil), which is enough for tools that want to go on reporting.
func Parse(filename string, src []byte) (*File, Errors) {
	file, diags, _ := ParsePieces(filename, src, nil)
	return file, diags
}

// ParsePieces parses one file like Parse and also hands its statements to
// each, in file order, piece by piece as soon as a piece and all the pieces
// before it are parsed: large files are cut into pieces at top-level
// statement boundaries and the pieces parsed in parallel, so a caller can
// work on the first statements while the next are being parsed. each is
// called from one goroutine at a time, never after ParsePieces returns.
//
// When the file has a syntax error, the calls of each stop (some pieces
// may already have been handed over), and the file is parsed again
// statement by statement to report every error; streamed is then false, and
// the caller should start over with the returned tree.
func ParsePieces(filename string, src []byte, each func([]*Item)) (file *File, diags Errors, streamed bool) {
	return ParsePiecesCached(filename, src, each, nil)
}

// ParsePiecesCached is ParsePieces with a cache of the file's last parse
// (nil: none): the pieces whose tokens did not change are not parsed
// again.
func ParsePiecesCached(filename string, src []byte, each func([]*Item), cache *Cache) (file *File, diags Errors, streamed bool) {
	var all []*Item
	file, diags, streamed = ParseMoved(filename, src, func(items []*Item, m Moved) {
		items = m.Items(items)
		if each != nil {
			each(items)
		}
		all = append(all, items...)
	}, cache)
	if streamed {
		file.Items = all
	}
	return file, diags, streamed
}

// ParseMoved is ParsePiecesCached for a caller that moves positions
// itself: a piece taken from the cache is handed to each as the tree the
// cache keeps, with how far it moved since (m; zero when it did not), and
// the tree is the same from one parse to the next as long as the piece's
// text does not change. When the parse streamed, the file's Items are
// nil: they went to each.
func ParseMoved(filename string, src []byte, each func(items []*Item, m Moved), cache *Cache) (file *File, diags Errors, streamed bool) {
	var fc *fileCache
	if cache != nil {
		var done func(bool)
		fc, done = cache.file(filename)
		defer func() { done(streamed) }()
	}
	// Each block of tokens holds whole top-level statements (see flush):
	// blocks are normalised and folded on their own, and never joined
	// unless the file has a syntax error.
	var (
		blocks   []foldedBlock
		comments []Comment
		eof      lexer.Token
		unclosed bool
	)
	if fc != nil {
		var next *lexed
		var kept int
		blocks, comments, diags, eof, unclosed, next, kept = lexCached(filename, string(src), fc.lex)
		fc.lex = next
		fc.kept.Add(int64(kept))
	} else {
		s := newScanner(filename, string(src), false)
		s.run()
		raw := s.allBlocks()
		last := raw[len(raw)-1]
		eof, raw[len(raw)-1] = last[len(last)-1], last[:len(last)-1]
		blocks = make([]foldedBlock, len(raw))
		for i, b := range raw {
			blocks[i] = foldBlock(b)
		}
		diags, comments, unclosed = s.errs, s.comments, s.unclosed
	}

	file, err := parseParallel(string(src), blocks, eof, each, fc)
	if err != nil {
		// Parse statement by statement to report every syntax error and
		// keep what parses.
		toks, parts := joinBlocks(blocks, eof)
		file = &File{}
		var perrs Errors
		file.Items = parseItems(toks[:len(toks)-1], toks[len(toks)-1], &perrs)
		if unclosed {
			// The lexer reported where the unclosed bracket opened; the
			// parser would only add "unexpected end of input".
			perrs = slices.DeleteFunc(perrs, func(d Error) bool { return d.Pos == PosOf(toks[len(toks)-1].Pos) })
		}
		yamlHints(src, perrs)
		diags = append(diags, dropSameLine(perrs, diags)...)
		file.Items = parts.unfold(file.Items)
	}
	file.Comments = comments
	return file, diags.Sort(), err == nil
}

// dropSameLine removes parse errors on lines that already have a lexical
// error: they are its consequence, not a second problem.
func dropSameLine(perrs, lexErrs Errors) Errors {
	if len(lexErrs) == 0 {
		return perrs
	}
	lines := make(map[int]bool, len(lexErrs))
	for _, d := range lexErrs {
		lines[d.Pos.Line] = true
	}
	out := perrs[:0]
	for _, d := range perrs {
		if !lines[d.Pos.Line] {
			out = append(out, d)
		}
	}
	return out
}

// chunkTokens is the number of tokens above which a file is cut into
// pieces at top-level statement boundaries and the pieces parsed in
// parallel. Top-level statements are independent, so the pieces' items
// concatenate into the file's.
//
// With a cache, pieces are smaller and cut where their content says (see
// cutHere), so that a change parses again only the piece it falls in,
// and the pieces after it are cut where they were before (a cut by
// count would move every later cut when the change adds a statement).
const (
	chunkTokens    = 1 << 13
	minChunkTokens = 1 << 7

	cachedMinTokens = 1 << 7
	cachedMaxTokens = 1 << 10
)

// cutHere reports whether a cached parse ends a piece before the
// statement that starts with token t, n tokens into the piece: past
// cachedMinTokens, at about one statement in 8, chosen by the text of
// the statement's first token (a key, a section header); at
// cachedMaxTokens in any case.
func cutHere(t lexer.Token, n int) bool {
	if n < cachedMinTokens {
		return false
	}
	if n >= cachedMaxTokens {
		return true
	}
	return textHash(t.Value)&7 == 0
}

// textHash is the FNV-1a hash of text up to its first newline and at
// most 16 bytes: what the cuts of a cached parse are chosen by.
func textHash(text string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(text) && i < 16 && text[i] != '\n'; i++ {
		h = (h ^ uint32(text[i])) * 16777619
	}
	return h
}

// foldedBlock is a block of whole statements, normalised and folded,
// with the separators normalising dropped at its ends (lead, trail: a
// block of separators only has them in lead), which joinBlocks puts back
// as normalising the blocks as one would.
type foldedBlock struct {
	toks        []lexer.Token
	parts       folded
	lead, trail []lexer.Token
}

// foldBlock normalises and folds a block of raw tokens (without the end
// of input), keeping the separators at its ends.
func foldBlock(raw []lexer.Token) foldedBlock {
	var b foldedBlock
	i := 0
	for i < len(raw) && raw[i].Type == tokSep {
		i++
	}
	j := len(raw)
	for j > i && raw[j-1].Type == tokSep {
		j--
	}
	b.lead, b.trail = slices.Clone(raw[:i]), slices.Clone(raw[j:])
	b.toks, b.parts = fold(normalize(raw))
	return b
}

// joinBlocks makes one token list, ending with eof, of blocks: between
// two blocks, the separator that normalising the run of separators
// around their boundary keeps.
func joinBlocks(blocks []foldedBlock, eof lexer.Token) ([]lexer.Token, folded) {
	if len(blocks) == 1 {
		return append(blocks[0].toks, eof), blocks[0].parts
	}
	var toks, run []lexer.Token
	parts := folded{}
	for _, b := range blocks {
		run = append(run, b.lead...)
		if len(b.toks) == 0 {
			continue
		}
		if len(toks) > 0 && len(run) > 0 {
			toks = append(toks, keptSeparator(run))
		}
		toks = append(toks, b.toks...)
		run = append(run[:0], b.trail...)
		maps.Copy(parts, b.parts)
	}
	return append(toks, eof), parts
}

// keptSeparator is the separator normalize keeps of a run of them: the
// first ',' or ';', else the last newline.
func keptSeparator(run []lexer.Token) lexer.Token {
	t := run[0]
	for _, next := range run[1:] {
		if t.Value == "\n" {
			t = next
		}
	}
	return t
}

// piece is a run of top-level statements parsed on its own.
type piece struct {
	toks  []lexer.Token
	parts folded
}

// parseParallel parses blocks with the file grammar, in parallel pieces,
// handing each piece's statements to each (when not nil) in order. With
// fc, a piece the last parse had is taken from there.
func parseParallel(src string, blocks []foldedBlock, eof lexer.Token, each func([]*Item, Moved), fc *fileCache) (*File, error) {
	total := 0
	for _, b := range blocks {
		total += len(b.toks)
	}
	// Small files are cut too, into a few pieces per processor.
	chunk := min(chunkTokens, max(minChunkTokens, total/(4*runtime.GOMAXPROCS(0))))
	var pieces []piece
	for _, b := range blocks {
		body := b.toks
		for len(body) > 0 {
			n := 0
			if fc != nil {
				for n < len(body) && (n == 0 || !cutHere(body[n], n)) {
					n += statementLen(body[n:]) + 1
				}
			}
			for fc == nil && n < len(body) && n < chunk {
				n += statementLen(body[n:]) + 1
			}
			n = min(n, len(body))
			toks := body[:n]
			if last := len(toks) - 1; toks[last].Type == tokSep {
				toks = toks[:last]
			}
			pieces = append(pieces, piece{toks, b.parts})
			body = body[n:]
		}
	}
	type result struct {
		file  *File
		moved Moved
		err   error
	}
	results := make([]chan result, len(pieces))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	go func() {
		// Workers take pieces in order; a semaphore bounds them.
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for i, p := range pieces {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				var k pieceKey
				cached := fc != nil && len(p.toks) > 0
				if cached {
					end := eof.Pos.Offset // the text up to the next piece's first token
					if i+1 < len(pieces) && len(pieces[i+1].toks) > 0 {
						end = pieces[i+1].toks[0].Pos.Offset
					}
					k = key(src, p.toks[0].Pos.Offset, max(end, p.toks[0].Pos.Offset))
					if items, moved := fc.lookup(k, p.toks[0].Pos); items != nil {
						results[i] <- result{&File{Items: items}, moved, nil}
						return
					}
				}
				f, err := safeParse(fileParser, &sliceLexer{toks: p.toks, eof: eof})
				if err == nil {
					f.Items = p.parts.unfold(f.Items)
					if cached {
						fc.record(k, p.toks[0].Pos, f.Items)
					}
				}
				results[i] <- result{f, Moved{}, err}
			}()
		}
	}()
	file := &File{}
	var firstErr error
	for _, ch := range results {
		r := <-ch
		if firstErr != nil {
			continue // drain, so that no worker is left blocked
		}
		if r.err != nil {
			firstErr = r.err
			continue
		}
		if each != nil {
			each(r.file.Items, r.moved)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return file, nil
}

// errParserPanic stands for a panic inside participle, which it has on
// some malformed inputs (seen by fuzzing: an unclosed block holding a
// parenthesis). The statement is reported as a syntax error.
type errParserPanic struct{ at lexer.Token }

func (e errParserPanic) Error() string { return "syntax error" }

// safeParse runs a participle parser over the tokens of l.
func safeParse[G any](p *participle.Parser[G], l *sliceLexer) (g *G, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, errParserPanic{at: l.eof}
		}
	}()
	pl, err := lexer.Upgrade(l)
	if err != nil {
		return nil, err // sliceLexer never fails
	}
	return p.ParseFromLexer(pl)
}

// parseItems parses a statement list one statement at a time (recovery
// mode). end is the token that ends the list (its closing bracket or EOF).
func parseItems(toks []lexer.Token, end lexer.Token, errs *Errors) []*Item {
	var items []*Item
	for len(toks) > 0 {
		n := statementLen(toks)
		stmt := toks[:n]
		stop := end
		if n < len(toks) {
			stop = toks[n]
			toks = toks[n+1:]
		} else {
			toks = nil
		}
		eof := lexer.Token{Type: tokEOF, Value: stop.Value, Pos: stop.Pos}
		if stop.Type == tokSep {
			eof.Value = "\n"
		}
		item, err := safeParse(itemParser, &sliceLexer{toks: stmt, eof: eof})
		if err == nil {
			items = append(items, item)
			continue
		}
		// A block whose body has errors: report those, not the block.
		if len(stmt) >= 2 && stmt[1].Type == tokOpen {
			body := stmt[2:]
			closer := eof
			if len(body) > 0 && isCloser(body[len(body)-1]) {
				closer = body[len(body)-1]
				body = body[:len(body)-1]
			}
			before := len(*errs)
			parseItems(body, closer, errs)
			if len(*errs) > before {
				continue
			}
		}
		*errs = append(*errs, toDiagnostic(err, stmt))
	}
	return items
}

// statementLen returns the number of tokens of the first statement of toks:
// up to the first separator outside brackets.
func statementLen(toks []lexer.Token) int {
	depth := 0
	for i, t := range toks {
		switch {
		case isOpener(t):
			depth++
		case isCloser(t):
			if depth > 0 {
				depth--
			}
		case t.Type == tokSep && depth == 0:
			return i
		}
	}
	return len(toks)
}

// toDiagnostic turns a participle error into a diagnostic that names the
// offending token in TuskLang's terms and what was expected instead. stmt
// is the statement being parsed, for context.
func toDiagnostic(err error, stmt []lexer.Token) Error {
	var pe errParserPanic
	if errors.As(err, &pe) {
		return Error{Pos: PosOf(pe.at.Pos), Msg: "unexpected " + describeEnd(pe.at)}
	}
	var ute *participle.UnexpectedTokenError
	if !errors.As(err, &ute) {
		var perr participle.Error
		if errors.As(err, &perr) {
			return Error{Pos: PosOf(perr.Position()), Msg: perr.Message()}
		}
		return Error{Msg: err.Error()}
	}
	t := ute.Unexpected
	msg := "unexpected " + describeEnd(t)
	prev := previous(stmt, t)
	exp := ute.Message()
	switch {
	case len(stmt) > 0 && stmt[0].Type == tokHeaderOpen && prev.Value == "]":
		msg += " after section header: a header stands alone on its line (type annotations such as [string] key: are not TuskLang)"
	case strings.Contains(exp, "<assign>"):
		msg += fmt.Sprintf(` after key %q: expected ":" or "=" and a value, or a block { ... }`, prev.Value)
	case strings.Contains(exp, "<scalar>"):
		msg += ", expected a value"
	default:
		if i := strings.LastIndex(exp, "(expected "); i >= 0 && strings.HasSuffix(exp, ")") {
			msg += ", expected " + strings.NewReplacer("<sep>", "a new line", "<key>", "a key", "<close>", `"}"`).Replace(exp[i+len("(expected "):len(exp)-1])
		}
	}
	return Error{Pos: PosOf(t.Pos), Msg: msg + hint(t)}
}

// previous returns the token before t in stmt (zero when none).
func previous(stmt []lexer.Token, t lexer.Token) lexer.Token {
	for i, x := range stmt {
		if x.Pos.Offset >= t.Pos.Offset && i > 0 {
			return stmt[i-1]
		}
	}
	if len(stmt) > 0 && t.Type == tokEOF {
		return stmt[len(stmt)-1]
	}
	return lexer.Token{}
}

func describeEnd(t lexer.Token) string {
	switch {
	case t.Type == tokEOF && t.Value == "\n":
		return "end of line"
	case t.Type == tokEOF && t.Value != "":
		return describeToken(lexer.Token{Type: tokPunct, Value: t.Value}) // a closing bracket
	}
	return describeToken(t)
}

// hint adds advice for mistakes people make when they come from another
// format.
func hint(t lexer.Token) string {
	if t.Type == tokPrefix && t.Value == "-" {
		return " (YAML-style '- item' lists are not TuskLang: write [a, b])"
	}
	return ""
}

// ParseString is Parse for a string.
func ParseString(filename, src string) (*File, Errors) {
	return Parse(filename, []byte(src))
}

// Lex returns the tokens of src as "Type:value" strings (for tests and
// debugging).
func Lex(filename, src string) ([]string, Errors) {
	s := newScanner(filename, src, false)
	s.run()
	names := lexer.SymbolsByRune(lexDefinition{})
	var out []string
	for _, t := range normalize(s.tokens()) {
		out = append(out, fmt.Sprintf("%s:%s", names[t.Type], t.Value))
	}
	return out, s.errs
}

// yamlHints explains "expected a value" errors on a line ending in ':'
// whose next line is indented further: YAML-style nesting.
func yamlHints(src []byte, errs Errors) {
	lines := strings.Split(string(src), "\n")
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }
	for i, d := range errs {
		n := d.Pos.Line // 1-based: lines[n] is the next line
		if !strings.HasSuffix(d.Msg, "expected a value") || n >= len(lines) || d.Pos.Filename == "" {
			continue
		}
		cur := strings.TrimRight(lines[n-1], " \t\r")
		if !strings.HasSuffix(cur, ":") || strings.TrimSpace(lines[n]) == "" || indent(lines[n]) <= indent(cur) {
			continue
		}
		key := strings.TrimSpace(strings.TrimSuffix(cur, ":"))
		errs[i].Msg += fmt.Sprintf(" (indentation does not nest in TuskLang: write %s { ... } around the indented lines)", key)
	}
}
