package parser

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Comment is one comment of the source, kept for the formatter.
type Comment struct {
	Pos  Pos
	End  Pos    // position just after the comment's last byte
	Text string // verbatim, including the # or // or /* */ markers
	// OwnLine is true when nothing but white space precedes the comment on its line.
	OwnLine bool
}

// frameKind is the kind of bracket the lexer is inside. TuskLang is
// context sensitive (a newline ends a statement at top level but separates
// items in an array, a bare word is a string after ':' but a key at the start
// of a line), so the lexer tracks nesting itself.
type frameKind uint8

const (
	frameTop    frameKind = iota // top level: statements, newline separated
	frameBrace                   // name { ... } or { ... }: entries
	frameAngle                   // name > ... <: entries
	frameArray                   // [ ... ]: values
	frameParen                   // ( ... ): expression or arguments; newlines ignored
	frameHeader                  // [section.header]
)

// scanner turns TuskLang source into tokens. It never stops at an error:
// it records a diagnostic and carries on, so that all problems of a file are
// reported at once.
type scanner struct {
	file      string
	src       string
	pos       int
	line      int
	lineStart int

	frames []frameKind
	opened []lexer.Position // where each frame's bracket was opened

	keyStart   bool // a key (start of an entry) may come next
	afterKey   bool // a key was just read; ':', '=', '{', '>' or '[' may follow
	valueStart bool // the start of a value: bare words are strings here

	toks     []lexer.Token   // the current block of tokens
	blocks   [][]lexer.Token // full blocks before it (see flush)
	comments []Comment
	errs     Errors
	unclosed bool // a bracket is still open at the end of the input

	// For a parse with a cache (see relex.go): marks are where each
	// block starts, with the comments and problems found before it; a
	// block is cut where the text says (cdc) rather than by count; and
	// resync, when set, stops the scan at the start of a block of the
	// last lexing in the text that did not change after the edit.
	marks     []blockMark
	blockErrs int // the problems found in blocks: those after are the end's
	cdc       bool
	resync    *resync
}

// tokenBlock is the size of the blocks the scanner collects tokens in: a
// large file's tokens are not copied again and again as one slice grows.
const tokenBlock = 1 << 15

// flush starts a new block when the current one is full. It is called
// right after a newline's Sep token, where no lexing rule looks back
// further than that token, and only starts a block between two top-level
// statements: each block holds whole statements, so blocks are normalised,
// folded and parsed on their own.
func (s *scanner) flush() {
	if len(s.frames) != 1 {
		return
	}
	if s.resync != nil && s.resync.at(s) {
		return
	}
	if len(s.toks) >= tokenBlock-256 || s.cdc && len(s.toks) >= cdcBlockTokens && cutBlockAt(s.src[s.pos:]) {
		s.cutBlock()
	}
}

// cutBlock ends the current block of tokens at s.pos (a line's start at
// top level) and starts the next.
func (s *scanner) cutBlock() {
	s.blocks = append(s.blocks, s.toks)
	s.toks = make([]lexer.Token, 0, s.blockCap(2*len(s.toks)+16))
	s.marks = append(s.marks, blockMark{start: s.pos, line: s.line, comments: len(s.comments), errs: len(s.errs)})
}

// blockCap is the capacity to start a block of tokens with, want when
// blocks are cut by count; blocks cut where the text says hold about
// cdcBlockTokens*8 (the few longer ones grow), and most lexings after an
// edit make only one or two of them.
func (s *scanner) blockCap(want int) int {
	if s.cdc {
		return min(want, 10*cdcBlockTokens)
	}
	return min(want, tokenBlock)
}

// allBlocks returns the blocks of tokens, the current one last.
func (s *scanner) allBlocks() [][]lexer.Token { return append(s.blocks, s.toks) }

// tokens returns all the tokens lexed, in one slice.
func (s *scanner) tokens() []lexer.Token {
	if len(s.blocks) == 0 {
		return s.toks
	}
	n := len(s.toks)
	for _, b := range s.blocks {
		n += len(b)
	}
	all := make([]lexer.Token, 0, n)
	for _, b := range s.blocks {
		all = append(all, b...)
	}
	return append(all, s.toks...)
}

// newScanner returns a scanner of src; cdc cuts its blocks where the
// text says (see cutBlockAt) rather than by count.
func newScanner(file, src string, cdc bool) *scanner {
	s := &scanner{
		file:     file,
		src:      src,
		cdc:      cdc,
		line:     1,
		frames:   []frameKind{frameTop},
		opened:   []lexer.Position{{}},
		keyStart: true,
	}
	s.toks = make([]lexer.Token, 0, s.blockCap(len(src)/4+4))
	// A UTF-8 byte-order mark, as some editors save files, is skipped;
	// offsets stay the file's, and columns start after it.
	if strings.HasPrefix(src, bom) {
		s.pos, s.lineStart = len(bom), len(bom)
	}
	return s
}

// bom is the UTF-8 byte-order mark.
const bom = "\ufeff"

func (s *scanner) position(off int) lexer.Position {
	// off is always on the current line or after s.lineStart.
	return lexer.Position{Filename: s.file, Offset: off, Line: s.line, Column: off - s.lineStart + 1}
}

func (s *scanner) errorf(off int, format string, args ...any) {
	s.errs = append(s.errs, Error{Pos: PosOf(s.position(off)), Msg: fmt.Sprintf(format, args...)})
}

func (s *scanner) emit(typ lexer.TokenType, start, end int) {
	s.toks = append(s.toks, lexer.Token{Type: typ, Value: s.src[start:end], Pos: s.position(start)})
}

func (s *scanner) top() frameKind { return s.frames[len(s.frames)-1] }

// push enters a bracket opened by the byte just before s.pos.
func (s *scanner) push(f frameKind) {
	s.frames = append(s.frames, f)
	s.opened = append(s.opened, s.position(s.pos-1))
}

func (s *scanner) pop(f frameKind) bool {
	if len(s.frames) > 1 && s.top() == f {
		s.frames = s.frames[:len(s.frames)-1]
		s.opened = s.opened[:len(s.opened)-1]
		return true
	}
	return false
}

// entryFrame reports whether the current frame holds key/value entries.
func (s *scanner) entryFrame() bool {
	f := s.top()
	return f == frameTop || f == frameBrace || f == frameAngle
}

// afterSeparator sets the state that follows a newline or comma.
func (s *scanner) afterSeparator() {
	s.afterKey = false
	if s.entryFrame() {
		s.keyStart, s.valueStart = true, false
	} else {
		s.keyStart, s.valueStart = false, true
	}
}

// newline advances the line counters past the '\n' at s.pos.
func (s *scanner) newline() {
	s.pos++
	s.line++
	s.lineStart = s.pos
}

// lineEnd returns the offset of the end of off's line (its '\n', or the
// end of the source).
func (s *scanner) lineEnd(off int) int {
	if nl := strings.IndexByte(s.src[off:], '\n'); nl >= 0 {
		return off + nl
	}
	return len(s.src)
}

// spaceBefore reports whether off is at the start of its line (after
// indentation) or follows white space: where '#' and '//' start comments.
func (s *scanner) spaceBefore(off int) bool {
	return off == s.lineStart || off > 0 && (s.src[off-1] == ' ' || s.src[off-1] == '\t' || s.src[off-1] == '\r')
}

func (s *scanner) lineIndentOnly(off int) bool {
	return strings.TrimLeft(s.src[s.lineStart:off], " \t") == ""
}

// commentAt reports whether a comment starts at off.
func (s *scanner) commentAt(off int) bool {
	if off >= len(s.src) || !s.spaceBefore(off) {
		return false
	}
	switch s.src[off] {
	case '#':
		return true
	case '/':
		return off+1 < len(s.src) && (s.src[off+1] == '/' || s.src[off+1] == '*')
	}
	return false
}

// lexComment reads the comment at s.pos.
func (s *scanner) lexComment() {
	start := s.pos
	startPos := s.position(start)
	own := s.lineIndentOnly(start)
	if strings.HasPrefix(s.src[start:], "/*") {
		end := strings.Index(s.src[start+2:], "*/")
		if end < 0 {
			s.errorf(start, "unterminated block comment (missing */)")
			end = len(s.src)
		} else {
			end += start + 4
		}
		for s.pos < end {
			if s.src[s.pos] == '\n' {
				s.newline()
			} else {
				s.pos++
			}
		}
	} else {
		s.pos = s.lineEnd(start)
	}
	text := strings.TrimRight(s.src[start:s.pos], " \t\r")
	s.comments = append(s.comments, Comment{Pos: PosOf(startPos), End: PosOf(s.position(s.pos)), Text: text, OwnLine: own})
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c)
}

// scanName returns the end of a name starting at off: identifier characters,
// with single '-' (and, when dots is set, '.') between them.
func (s *scanner) scanName(off int, dots bool) int {
	for off < len(s.src) {
		c := s.src[off]
		if isIdentChar(c) {
			off++
			continue
		}
		if (c == '-' || dots && c == '.') && off+1 < len(s.src) && isIdentChar(s.src[off+1]) {
			off += 2
			continue
		}
		break
	}
	return off
}

// skipBlanks skips spaces and tabs (not newlines) from off.
func (s *scanner) skipBlanks(off int) int {
	for off < len(s.src) && (s.src[off] == ' ' || s.src[off] == '\t' || s.src[off] == '\r') {
		off++
	}
	return off
}

// restOfLineEmpty reports whether only blanks or a comment follow off on its line.
func (s *scanner) restOfLineEmpty(off int) bool {
	off = s.skipBlanks(off)
	return off >= len(s.src) || s.src[off] == '\n' || s.commentAt(off)
}

// valueEndAt reports whether a value ends at off: end of line, a comment,
// ';', or (inside brackets) ',' or a closing bracket.
func (s *scanner) valueEndAt(off int) bool {
	if off >= len(s.src) {
		return true
	}
	switch c := s.src[off]; c {
	case '\n', ';':
		return true
	case ',', '}', ']', ')':
		return s.top() != frameTop
	case '#', '/':
		return s.commentAt(off)
	}
	return false
}

// lexWord reads a bare string from s.pos to the end of the value.
func (s *scanner) lexWord() {
	start := s.pos
	end := start
	for end < len(s.src) && !s.valueEndAt(end) {
		end++
	}
	s.pos = end
	for end > start && (s.src[end-1] == ' ' || s.src[end-1] == '\t' || s.src[end-1] == '\r') {
		end--
	}
	s.emit(tokScalar, start, end)
}

// checkUTF8 reports the first invalid UTF-8 byte of every line: a .tsk
// file is UTF-8 text, in its strings and comments too.
func (s *scanner) checkUTF8() {
	if utf8.ValidString(s.src) {
		return
	}
	line, lineStart := 1, 0
	reported := 0
	for i := 0; i < len(s.src); {
		c := s.src[i]
		if c == '\n' {
			line++
			i++
			lineStart = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s.src[i:])
		if r == utf8.RuneError && size <= 1 && reported != line {
			reported = line
			s.errs = append(s.errs, Error{
				Pos: PosOf(lexer.Position{Filename: s.file, Offset: i, Line: line, Column: i - lineStart + 1}),
				Msg: fmt.Sprintf("invalid UTF-8 byte 0x%02x", c),
			})
		}
		i += size
	}
}

// run lexes the whole source.
func (s *scanner) run() {
	if s.resync == nil {
		s.checkUTF8()
	}
	s.marks = append(s.marks, blockMark{start: s.pos, line: s.line, comments: len(s.comments), errs: len(s.errs)})
	src := s.src
	for s.pos < len(src) {
		c := src[s.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
			continue
		case c == '\n':
			s.pop(frameHeader) // a header ends with its line
			s.emit(tokSep, s.pos, s.pos+1)
			s.newline()
			s.afterSeparator()
			s.flush()
			continue
		case s.commentAt(s.pos):
			if c == '#' && s.keyStart && s.lineIndentOnly(s.pos) && s.entryFrame() && strings.HasPrefix(src[s.pos:], "#include") &&
				s.pos+8 < len(src) && (src[s.pos+8] == ' ' || src[s.pos+8] == '\t') {
				s.emit(tokInclude, s.pos, s.pos+8)
				s.pos += 8
				s.keyStart, s.valueStart = false, false
				continue
			}
			s.lexComment()
			continue
		}
		switch {
		case s.afterKey:
			s.afterKey = false
			if s.lexAfterKey(c) {
				continue
			}
		case s.keyStart:
			s.keyStart = false
			if s.lexKey(c) {
				continue
			}
		case s.valueStart:
			s.valueStart = false
			if s.lexValueStart(c) {
				continue
			}
		}
		s.lexToken(c)
	}
	eof := s.position(len(src))
	if len(src) > 0 && src[len(src)-1] == '\n' {
		eof = s.posOf(len(src) - 1) // report "end of input" on the last line
	}
	s.toks = append(s.toks, lexer.Token{Type: tokEOF, Pos: eof})
	s.blockErrs = len(s.errs)
	for i := len(s.frames) - 1; i > 0; i-- {
		if s.frames[i] != frameHeader {
			open := s.opened[i]
			s.errs = append(s.errs, Error{Pos: PosOf(open), Msg: fmt.Sprintf("%q is never closed (expected %q)", s.src[open.Offset:open.Offset+1], closerOf(s.frames[i]))})
			s.unclosed = true
		}
	}
}

func closerOf(f frameKind) string {
	switch f {
	case frameBrace:
		return "}"
	case frameAngle:
		return "<"
	case frameArray:
		return "]"
	}
	return ")"
}

// lexKey handles the start of an entry. It returns false when c is not
// special there and should be lexed as an ordinary token.
func (s *scanner) lexKey(c byte) bool {
	switch {
	case c == '[' && len(s.frames) == 1:
		s.emit(tokHeaderOpen, s.pos, s.pos+1)
		s.pos++
		s.push(frameHeader)
		return true
	case c == '<' && s.top() == frameAngle && !strings.HasPrefix(s.src[s.pos:], "<<") && s.restOfLineEmpty(s.pos+1):
		s.emit(tokClose, s.pos, s.pos+1)
		s.pos++
		s.pop(frameAngle)
		return true
	case c == '$':
		end := s.scanName(s.pos+1, false)
		if end == s.pos+1 {
			return false
		}
		s.emit(tokVarName, s.pos, end)
		s.pos = end
		s.afterKey = true
		return true
	case isIdentChar(c):
		end := s.scanName(s.pos, false)
		s.emit(tokKey, s.pos, end)
		s.pos = end
		s.afterKey = true
		return true
	case c == '"' || c == '\'':
		s.lexString()
		s.toks[len(s.toks)-1].Type = tokKey
		s.afterKey = true
		return true
	}
	return false
}

// lexAfterKey handles what follows a key: ':' or '=', a block, an array.
func (s *scanner) lexAfterKey(c byte) bool {
	switch {
	case c == ':' || c == '=' && !strings.HasPrefix(s.src[s.pos:], "=="):
		s.emit(tokAssign, s.pos, s.pos+1)
		s.pos++
		s.valueStart = true
		return true
	case c == '{':
		s.emit(tokOpen, s.pos, s.pos+1)
		s.pos++
		s.push(frameBrace)
		s.keyStart = true
		return true
	case c == '>' && s.restOfLineEmpty(s.pos+1):
		s.emit(tokOpen, s.pos, s.pos+1)
		s.pos++
		s.push(frameAngle)
		s.keyStart = true
		return true
	case c == '[':
		s.emit(tokPunct, s.pos, s.pos+1)
		s.pos++
		s.push(frameArray)
		s.valueStart = true
		return true
	}
	return false
}

// isOperatorStart reports whether an operator that continues an expression
// starts at off.
func (s *scanner) isOperatorStart(off int) bool {
	if off >= len(s.src) {
		return false
	}
	switch s.src[off] {
	case '+', '-', '*', '/', '%', '<', '>', '?', '|':
		return true
	case '=', '!':
		return off+1 < len(s.src) && s.src[off+1] == '='
	case '&':
		return off+1 < len(s.src) && s.src[off+1] == '&'
	}
	return false
}

// lexValueStart handles the first token of a value, where bare words are
// strings: `greeting: hello world`, `size: 100MB`, `path: /usr/bin`.
func (s *scanner) lexValueStart(c byte) bool {
	if s.valueEndAt(s.pos) {
		return false
	}
	n := len(s.toks)
	if s.lexValueStartToken(c) {
		// A scalar followed by the end of the value is the whole value.
		// (The token must be the source text, not a stand-in for a broken string.)
		if len(s.toks) == n+1 && s.toks[n].Type == tokScalar && strings.HasPrefix(s.src[s.toks[n].Pos.Offset:], s.toks[n].Value) &&
			s.valueEndAt(s.skipBlanks(s.pos)) {
			s.toks[n].Type = tokValue
		}
		return true
	}
	return false
}

func (s *scanner) lexValueStartToken(c byte) bool {
	switch {
	case c == '"' || c == '\'' || c == '$' || c == '<' && strings.HasPrefix(s.src[s.pos:], "<<<"):
		s.lexToken(c)
		return true
	case c == '@' || c == '[' || c == '{' || c == '(' || c == '!' || c == '-':
		return false
	case isDigit(c):
		if end, _, ok := s.lexNumber(s.pos); ok {
			s.emit(tokScalar, s.pos, end)
			s.pos = end
			return true
		}
	case isLetter(c):
		end := s.scanName(s.pos, true)
		next := s.skipBlanks(end)
		if end < len(s.src) && s.src[end] == '(' {
			s.emit(tokCall, s.pos, end)
			s.pos = end
			return true
		}
		if s.valueEndAt(next) || s.isOperatorStart(next) {
			s.emit(tokScalar, s.pos, end)
			s.pos = end
			return true
		}
	}
	s.lexWord()
	return true
}

// lexToken lexes one ordinary token inside an expression or structure.
func (s *scanner) lexToken(c byte) {
	src := s.src
	start := s.pos
	header := s.top() == frameHeader
	switch {
	case c == '"' || c == '\'':
		s.lexString()
		if header {
			s.toks[len(s.toks)-1].Type = tokKey
		}
		return
	case c == '<' && strings.HasPrefix(src[start:], "<<<") && start+3 < len(src) && (isLetter(src[start+3]) || src[start+3] == '\''):
		s.lexHeredoc()
		return
	case header && isIdentChar(c):
		end := s.scanName(start, false)
		s.emit(tokKey, start, end)
		s.pos = end
		return
	case isDigit(c):
		end, _, ok := s.lexNumber(start)
		if !ok && (end >= len(src) || src[end] != ':') { // 1:2 after a '?' is a ternary
			end = s.scanName(end, true)
			s.errorf(start, "malformed number %q (quote it if it is a string)", src[start:end])
			s.emit(tokScalar, start, start+1)
			s.pos = end
			return
		}
		s.emit(tokScalar, start, end)
		s.pos = end
		return
	case isLetter(c):
		end := s.scanName(start, true)
		typ := tokScalar
		if end < len(src) && src[end] == '(' {
			typ = tokCall
		}
		s.emit(typ, start, end)
		s.pos = end
		return
	case c == '$':
		end := s.scanName(start+1, false)
		if end > start+1 {
			s.emit(tokScalar, start, end)
			s.pos = end
			return
		}
	case c == '@':
		end := s.scanName(start+1, true)
		if end > start+1 {
			s.emit(tokCall, start, end)
			s.pos = end
			return
		}
	case c == ',' || c == ';':
		s.emit(tokSep, start, start+1)
		s.pos++
		s.afterSeparator()
		return
	case c == '{':
		s.emit(tokOpen, start, start+1)
		s.pos++
		s.push(frameBrace)
		s.keyStart = true
		return
	case c == '[':
		s.emit(tokPunct, start, start+1)
		s.pos++
		s.push(frameArray)
		s.valueStart = true
		return
	case c == '(':
		s.emit(tokPunct, start, start+1)
		s.pos++
		s.push(frameParen)
		s.valueStart = true
		return
	case c == '}':
		if s.pop(frameBrace) {
			s.emit(tokClose, start, start+1)
		} else {
			s.emit(tokPunct, start, start+1)
		}
		s.pos++
		return
	case c == ']':
		s.emit(tokPunct, start, start+1)
		s.pos++
		if !s.pop(frameArray) {
			s.pop(frameHeader)
		}
		return
	case c == ')':
		s.emit(tokPunct, start, start+1)
		s.pos++
		s.pop(frameParen)
		return
	case c == ':' || c == '.' || c == '?':
		s.emit(tokPunct, start, start+1)
		s.pos++
		return
	}
	if n := operatorLen(src[start:]); n > 0 {
		switch {
		case n == 1 && c == '=':
			s.emit(tokPunct, start, start+1)
		case n == 1 && (c == '!' || c == '-' && !s.afterOperand()):
			if last := len(s.toks) - 1; last >= 0 && s.toks[last].Type == tokPrefix {
				s.toks[last].Value += src[start : start+1] // one token for a run: !!x
			} else {
				s.emit(tokPrefix, start, start+1)
			}
		default:
			s.emit(tokBinOp, start, start+n)
		}
		s.pos += n
		return
	}
	r, size := utf8.DecodeRuneInString(src[start:])
	if r == utf8.RuneError && size <= 1 {
		s.errorf(start, "invalid UTF-8 byte 0x%02x", src[start])
		size = 1
	} else {
		s.errorf(start, "unexpected character %q", r)
	}
	s.pos += size
}

// afterOperand reports whether the last token ends an operand, so that a
// following '-' is a binary minus rather than a sign.
func (s *scanner) afterOperand() bool {
	if len(s.toks) == 0 {
		return false
	}
	t := s.toks[len(s.toks)-1]
	switch t.Type {
	case tokScalar, tokValue, tokCall, tokClose:
		return true
	case tokPunct:
		return t.Value == ")" || t.Value == "]"
	}
	return false
}

// operatorLen returns the length of the operator at the start of s, or 0.
func operatorLen(s string) int {
	if len(s) >= 2 {
		switch s[:2] {
		case "==", "!=", "<=", ">=", "&&", "||":
			return 2
		}
	}
	switch s[0] {
	case '+', '-', '*', '/', '%', '<', '>', '!', '|', '=':
		return 1
	}
	return 0
}
