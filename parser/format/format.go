// Package format prints TuskLang (.tsk) source in its canonical layout. It
// is the engine of the `tsk fmt` command.
//
// The canonical layout:
//
//   - Entries are `key: value` (`key = value` becomes `key: value`, a
//     trailing `;` is dropped); variables are `$name: value`; `#include "x"`
//     and `[a.b]` section headers are kept, headers at column 0 with one
//     blank line before them (before the comments attached to them, if any)
//     except at the start of the file.
//   - Blocks are `name { ... }` with their body indented by four spaces.
//     Angle blocks `name > ... <` are printed as brace blocks (they mean the
//     same).
//   - Blocks, objects, arrays and argument lists keep the author's choice of
//     layout. A list is multi-line when the source had a line break between
//     its opening bracket and its first item, between two items, or between
//     its last item and its closing bracket; it is then printed one item per
//     line, indented, with a `,` after every item of an array or argument
//     list and nothing after the entries of a block or object. Otherwise it
//     is printed on one line (`[1, 2]`, `f(a, b)`, `{ a: 1, b: 2 }`); an item
//     that itself spans lines (a multi-line object, a heredoc) is then
//     printed in place, hugging the brackets: `@json({` ... `})`. Empty lists
//     without comments are `{}`, `[]` and `()`.
//   - Scalars are printed exactly as written: quote style, escapes, number
//     spelling (0xFF, 1_000), bare words, `"""` strings and heredocs (whose
//     content is never re-indented).
//   - Expressions have one space around binary operators and around `?` and
//     `:`, unary prefixes attached, parentheses as written, calls as
//     `@name(a, b)` with chained `.name(args)`.
//   - Every comment is kept, verbatim. A comment that followed code on its
//     line stays after that code, two spaces away (`key: 1  # note`); other
//     comments are printed on their own lines at the indentation of what
//     follows them; comments at the end of a block stay before its closing
//     brace. A comment inside an expression is printed in place.
//   - One blank line is kept where the source had one or more between two
//     statements or comments, none after an opening brace or before a
//     closing one.
//   - The output ends with exactly one newline (an empty document formats
//     to empty output).
//
// Formatting is idempotent: formatting formatted output returns it
// unchanged, and the output parses to the same tree as the input.
package format

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/tuskcompose/composer/parser"
)

// indentWidth is the number of spaces per nesting level.
const indentWidth = 4

// Source formats TuskLang source. It returns the diagnostics of the parse
// when the source has syntax errors (and then no output); otherwise it
// returns the canonical form of src and nil. It never drops a statement: if
// the parser hands it a statement without content, it returns a diagnostic
// at that statement and no output. The result does not depend on filename,
// which only names the file in diagnostics.
func Source(filename string, src []byte) ([]byte, parser.Errors) {
	f, diags := parser.Parse(filename, src)
	if len(diags) > 0 {
		return nil, diags
	}
	p := &printer{comments: f.Comments, atLineStart: true}
	p.file(f)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.out, nil
}

// msgUnexpanded reports a statement the parser left without content (it
// happens to simple entries inside a $variable's value). Printing nothing
// for it would delete it from the file, so Source refuses to format.
const msgUnexpanded = "cannot format: the parser left this statement unexpanded (a parser bug); the file is left as it is"

// pos locates a printed element in the source.
type pos struct {
	off  int // byte offset of its first byte
	line int // line of its first byte
	end  int // line of its last byte
}

func tokPos(t lexer.Token) pos {
	return pos{off: t.Pos.Offset, line: t.Pos.Line, end: t.Pos.Line + strings.Count(t.Value, "\n")}
}

// printer writes the canonical form of one file. Source positions drive the
// decisions (where comments go, blank lines, one-line or multi-line lists);
// out holds the result.
type printer struct {
	comments []parser.Comment
	next     int // index of the first comment not printed yet
	errs     parser.Errors

	out    []byte
	indent int // current nesting level
	// lastLine is the source line on which the last printed element (token
	// or comment) ends.
	lastLine int

	atLineStart bool // nothing written on the current output line yet
	contIndent  bool // indent the current output line one extra level
	afterOpen   bool // a multi-line list was just opened: no blank line
	needSpace   bool // the next element is separated by a space
	mustBreak   bool // a line comment was printed inline: the next element starts a new line
}

// ---- output primitives ----

// write appends s, indenting first when at the start of a line.
func (p *printer) write(s string) {
	if p.atLineStart {
		n := p.indent
		if p.contIndent {
			n++
		}
		for range n * indentWidth {
			p.out = append(p.out, ' ')
		}
		p.atLineStart, p.contIndent = false, false
	}
	p.out = append(p.out, s...)
}

// space writes one space unless the line is empty so far or already ends
// with one.
func (p *printer) space() {
	if !p.atLineStart && len(p.out) > 0 && p.out[len(p.out)-1] != ' ' {
		p.out = append(p.out, ' ')
	}
}

func (p *printer) newline() {
	p.out = append(p.out, '\n')
	p.atLineStart, p.contIndent = true, false
}

// emit writes an element of an expression or a line, honouring a pending
// space or line break.
func (p *printer) emit(s string) {
	if p.mustBreak {
		p.newline()
		p.contIndent = true
	} else if p.needSpace {
		p.space()
	}
	p.needSpace, p.mustBreak = false, false
	p.write(s)
}

// print writes the source element at with the text s, after the comments
// that precede it.
func (p *printer) print(at pos, s string) {
	p.inlineComments(at.off)
	p.emit(s)
	p.lastLine = at.end
}

// printCloser is print for a closing bracket, which follows what precedes
// it without a space, even a comment: `[1 /* c */]`.
func (p *printer) printCloser(at pos, s string) {
	p.inlineComments(at.off)
	p.needSpace = false
	p.print(at, s)
}

// linebreak starts a new output line for an element that starts on source
// line line, with a blank line before it where the source had one (or when
// forceBlank is set), except at the start of the file or of a list.
func (p *printer) linebreak(line int, forceBlank bool) {
	if len(p.out) > 0 {
		p.newline()
		if !p.afterOpen && (forceBlank || line-p.lastLine > 1) {
			p.out = append(p.out, '\n')
		}
	}
	p.afterOpen, p.needSpace, p.mustBreak = false, false, false
}

// ---- comments ----

func isLineComment(c parser.Comment) bool {
	return strings.HasPrefix(c.Text, "#") || strings.HasPrefix(c.Text, "//")
}

// pendingBefore returns the index of the first comment at or after off.
func (p *printer) pendingBefore(off int) int {
	end := p.next
	for end < len(p.comments) && p.comments[end].Pos.Offset < off {
		end++
	}
	return end
}

// lineComments prints the comments up to index end in line mode: a comment
// that followed code on its line stays after that code, two spaces away;
// every other comment gets a line of its own, with a blank line before the
// comment of index blankAt.
func (p *printer) lineComments(end, blankAt int) {
	for ; p.next < end; p.next++ {
		c := p.comments[p.next]
		if !c.OwnLine && c.Pos.Line == p.lastLine && !p.atLineStart && len(p.out) > 0 {
			p.out = append(p.out, "  "...)
			p.out = append(p.out, c.Text...)
		} else {
			p.linebreak(c.Pos.Line, p.next == blankAt)
			p.write(c.Text)
		}
		p.lastLine = c.End.Line
	}
}

// inlineComments prints the comments before offset off inside a line: in
// place, separated by spaces, each on a new line when it started one in the
// source. A line comment makes the next element start a new line.
func (p *printer) inlineComments(off int) {
	for ; p.next < len(p.comments) && p.comments[p.next].Pos.Offset < off; p.next++ {
		c := p.comments[p.next]
		if len(p.out) > 0 && (p.mustBreak || c.Pos.Line > p.lastLine) {
			p.newline()
			p.contIndent = true
		} else {
			p.space() // also required: '#', '//' and '/*' start comments only after white space
		}
		p.needSpace, p.mustBreak = false, false
		p.write(c.Text)
		p.lastLine = c.End.Line
		if isLineComment(c) {
			p.mustBreak = true
		} else {
			p.needSpace = true
		}
	}
}

// startLine prepares the output line of a statement (or list item) whose
// first token is at first: it prints the comments before it and breaks the
// line. For a section header, the blank line goes before the comments
// attached to it (the own-line comments right above it).
func (p *printer) startLine(first pos, section bool) {
	end := p.pendingBefore(first.off)
	group := end
	if section {
		next := first.line
		for group > p.next {
			c := p.comments[group-1]
			if !c.OwnLine || next-c.End.Line > 1 {
				break
			}
			next = c.Pos.Line
			group--
		}
	}
	blankAt := -1
	if section {
		blankAt = group
	}
	p.lineComments(end, blankAt)
	p.linebreak(first.line, section && group == end)
}

// ---- source positions of nodes ----

// nodePos returns the position of a node from its Pos and End.
func nodePos(start, end parser.Pos) pos {
	return pos{off: start.Offset, line: start.Line, end: end.Line}
}

func itemPos(it *parser.Item) pos { return nodePos(it.Pos(), it.End()) }

func exprPos(x *parser.Expr) pos { return nodePos(x.Pos(), x.End()) }

// ---- statements ----

func (p *printer) file(f *parser.File) {
	for _, it := range f.Items {
		p.startLine(itemPos(it), it.Section != nil)
		p.item(it)
	}
	p.lineComments(len(p.comments), -1)
	if len(p.out) > 0 {
		p.out = append(p.out, '\n')
	}
}

func (p *printer) item(it *parser.Item) {
	switch {
	case it.Entry != nil:
		p.entry(it.Entry)
	case it.VarDef != nil:
		p.print(tokPos(it.VarDef.Name), it.VarDef.Name.Value)
		p.write(":")
		p.needSpace = true
		p.expr(it.VarDef.Value)
	case it.Section != nil:
		s := it.Section
		p.print(tokPos(s.Open), "[")
		for i, k := range s.Path {
			if i > 0 {
				p.write(".")
			}
			p.print(tokPos(k.Key), k.Key.Value)
		}
		p.printCloser(tokPos(s.Close), "]")
	case it.Include != nil:
		p.print(tokPos(it.Include.Directive), "#include")
		p.needSpace = true
		p.print(tokPos(it.Include.Path), it.Include.Path.Value)
	default:
		p.errs = append(p.errs, parser.Error{Pos: it.Pos(), Msg: msgUnexpanded})
	}
}

func (p *printer) entry(e *parser.Entry) {
	p.print(tokPos(e.Key), e.Key.Value)
	switch {
	case e.Value != nil:
		p.write(":")
		p.needSpace = true
		p.expr(e.Value)
	case e.Block != nil:
		p.needSpace = true
		p.block(e.Block)
	case e.Array != nil:
		p.needSpace = true
		p.array(e.Array)
	}
}

// ---- lists ----

// listKind tells how the items of a list are separated.
type listKind uint8

const (
	entryList listKind = iota // blocks and objects: `{ a: 1, b: 2 }`, newlines only when multi-line
	valueList                 // arrays and arguments: `[1, 2]`, a ',' after every item when multi-line
)

// list prints a bracketed list of n items; at locates item i and item
// prints it. forceMulti prints it on several lines whatever the source did.
// An item for which glue (when not nil) is true cannot start a line; in a
// multi-line list it stays on the line of the item before it.
func (p *printer) list(kind listKind, open, close lexer.Token, openText, closeText string,
	n int, at func(int) pos, item func(int), glue func(int) bool, forceMulti bool) {
	openAt, closeAt := tokPos(open), tokPos(close)
	p.print(openAt, openText)
	if n == 0 && p.pendingBefore(closeAt.off) == p.next && !forceMulti {
		p.print(closeAt, closeText)
		return
	}
	multi := forceMulti
	prev := openAt.end
	for i := 0; i < n && !multi; i++ {
		multi = at(i).line > prev
		prev = at(i).end
	}
	multi = multi || closeAt.line > prev
	if !multi {
		for i := range n {
			if i > 0 {
				p.write(",")
				p.needSpace = true
			} else if kind == entryList {
				p.needSpace = true
			}
			item(i)
		}
		if kind == entryList {
			p.needSpace = true
			p.print(closeAt, closeText) // `{ a: 1 }`
		} else {
			p.printCloser(closeAt, closeText) // `[1, 2]`
		}
		return
	}
	p.indent++
	p.afterOpen = true
	for i := range n {
		if glue == nil || !glue(i) {
			p.startLine(at(i), false)
		}
		item(i)
		if kind == valueList {
			p.write(",")
		}
	}
	p.lineComments(p.pendingBefore(closeAt.off), -1)
	p.indent--
	p.newline()
	p.afterOpen, p.needSpace, p.mustBreak = false, false, false
	p.print(closeAt, closeText)
}

func (p *printer) block(b *parser.Block) {
	open, close, angle := "{", "}", false
	p.list(entryList, b.Open, b.Close, open, close, len(b.Items),
		func(i int) pos { return itemPos(b.Items[i]) },
		func(i int) { p.item(b.Items[i]) },
		nil, angle)
}

func (p *printer) array(a *parser.Array) {
	p.list(valueList, a.Open, a.Close, "[", "]", len(a.Items),
		func(i int) pos { return exprPos(a.Items[i]) },
		func(i int) { p.expr(a.Items[i]) },
		func(i int) bool { return glued(a.Items[i]) },
		false)
}

func (p *printer) args(a *parser.Args) {
	p.list(valueList, a.Open, a.Close, "(", ")", len(a.Items),
		func(i int) pos { return exprPos(a.Items[i]) },
		func(i int) { p.expr(a.Items[i]) },
		func(i int) bool { return glued(a.Items[i]) },
		false)
}

// ---- expressions ----

func (p *printer) expr(x *parser.Expr) {
	if x.Head == nil {
		p.scalar(x.Simple)
		return
	}
	p.primary(x.Head)
	for _, op := range x.Tail {
		p.needSpace = true
		p.print(tokPos(op.Op), op.Op.Value)
		p.needSpace = true
		p.primary(op.Right)
	}
	if x.Then != nil {
		p.needSpace = true
		p.emit("?")
		p.needSpace = true
		p.expr(x.Then)
		p.needSpace = true
		p.emit(":")
		p.needSpace = true
		p.expr(x.Else)
	}
}

func (p *printer) primary(pr *parser.Primary) {
	if pr.Prefix.Type != 0 {
		p.print(tokPos(pr.Prefix), pr.Prefix.Value)
	}
	switch {
	case pr.Call != nil:
		p.call(pr.Call)
	case pr.Array != nil:
		p.array(pr.Array)
	case pr.Object != nil:
		p.block(pr.Object)
	case pr.Paren != nil:
		p.print(tokPos(pr.POpen), "(")
		p.expr(pr.Paren)
		p.printCloser(tokPos(pr.PClose), ")")
	default:
		p.scalar(pr.Scalar)
	}
}

func (p *printer) call(c *parser.Call) {
	p.print(tokPos(c.Name), c.Name.Value)
	if c.Args != nil {
		p.args(c.Args)
	}
	bare := c.Args == nil
	for _, l := range c.Chain {
		// After a name without arguments, ".x" would be read as part of
		// that name (@a.b is one operator): keep them apart.
		if bare {
			p.write(" ")
		}
		p.write(".")
		p.print(tokPos(l.Name), l.Name.Value)
		if l.Args != nil {
			p.args(l.Args)
		}
		bare = l.Args == nil
	}
}

// scalar prints a scalar token as written.
func (p *printer) scalar(t lexer.Token) {
	text, at := scalarText(t), tokPos(t)
	if startsComment(text) {
		// A bare word such as `#fff` in `color:#fff` is a word only
		// because no white space precedes it: keep it glued.
		p.inlineComments(at.off)
		p.needSpace = false
		p.write(text)
		p.lastLine = at.end
		return
	}
	p.print(at, text)
}

// startsComment reports whether text would start a comment after white
// space.
func startsComment(text string) bool {
	return strings.HasPrefix(text, "#") || strings.HasPrefix(text, "//") || strings.HasPrefix(text, "/*")
}

// glued reports whether x is a bare word that must not be preceded by
// white space (see scalar).
func glued(x *parser.Expr) bool {
	return x.Head == nil && startsComment(x.Simple.Value)
}

// scalarText returns the text of a scalar token as written. Bare words
// are trimmed by the lexer already; trimming again keeps the formatter
// idempotent should trailing blanks ever reach a token.
func scalarText(t lexer.Token) string {
	return strings.TrimRight(t.Value, " \t\r")
}
