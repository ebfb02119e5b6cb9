package parser

import (
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// This file lexes a file again after an edit: the scanner starts at the
// first block of the last lexing that the edit touched and stops at the
// first block after the edit that starts where the text did not change,
// taking the blocks before and after from the cache (those after moved
// by the edit's length). A block starts a line at top level, where the
// scanner's state is its initial one, so a block lexes the same wherever
// its text is.
//
// The tokens of a block taken from the cache keep the text they were
// lexed from, as the trees of the piece cache do: memory holds at most
// one old text per block.

// cdcBlockTokens is the least tokens of a block cut where the text says
// (see cutBlockAt): blocks then hold about 8 times as many.
const cdcBlockTokens = 1 << 10

// cutBlockAt reports whether a cached lexing cuts a block before the line
// that starts text, by a hash of the line's first bytes: the cuts after
// an edit fall where they fell before it.
func cutBlockAt(text string) bool { return textHash(text)&7 == 0 }

// blockMark is where a block starts: the offset of its first byte (a
// line's start), its line, and how many comments and problems the
// scanner had found before it.
type blockMark struct {
	start, line    int
	comments, errs int
}

// lexBlock is a block of tokens as the cache keeps it: normalised and
// folded, with the comments and problems of its text.
type lexBlock struct {
	start, end, line int // its text is src[start:end], from line
	toks             []lexer.Token
	parts            folded
	lead, trail      []lexer.Token // see foldedBlock
	comments         []Comment
	errs             Errors
}

// lexed is a file's last lexing, for the next one.
type lexed struct {
	src    string
	blocks []lexBlock
	// line and lineStart are the scanner's at the end of the text.
	line, lineStart int
}

// resync is the state of a scan after an edit: where the text after the
// edit starts (from) and by how much the edit moved it (delta), the
// blocks of the last lexing that start there (by their old offset), and
// the blocks taken, shifted, when the scan reached one.
type resync struct {
	old    *lexed
	from   int
	delta  int
	starts map[int]int
	tail   []lexBlock
}

// at, called at a line's start at top level, ends the scan when the last
// lexing had a block starting there in the text after the edit: the
// current block ends, and the rest are the old blocks moved.
func (r *resync) at(s *scanner) bool {
	if s.pos < r.from {
		return false
	}
	i, ok := r.starts[s.pos-r.delta]
	if !ok {
		return false
	}
	lines := s.line - r.old.blocks[i].line
	for _, b := range r.old.blocks[i:] {
		r.tail = append(r.tail, b.shifted(r.delta, lines))
	}
	s.line, s.lineStart = r.old.line+lines, r.old.lineStart+r.delta
	s.pos = len(s.src)
	return true
}

// resume prepares s, a scanner of src, to lex only what changed since
// last: it returns the blocks before the edit, and sets s to start after
// them and to stop where the old blocks start again (s.resync). Without
// a usable last lexing, s lexes the whole text and s.resync is nil.
func (last *lexed) resume(s *scanner) (prefix []lexBlock) {
	src := s.src
	if last == nil || !utf8.ValidString(src) {
		return nil
	}
	old := last.src
	n := min(len(old), len(src))
	p := 0
	for p < n && old[p] == src[p] {
		p++
	}
	q := 0
	for q < n-p && old[len(old)-1-q] == src[len(src)-1-q] {
		q++
	}
	// The blocks before the edit, but the last: the others end where
	// the next starts, a line's start at top level.
	k := 0
	for k+1 < len(last.blocks) && last.blocks[k].end <= p {
		k++
	}
	if k > 0 {
		s.pos, s.lineStart, s.line = last.blocks[k].start, last.blocks[k].start, last.blocks[k].line
	}
	r := &resync{old: last, from: len(src) - q, delta: len(src) - len(old), starts: map[int]int{}}
	for i := k; i < len(last.blocks); i++ {
		r.starts[last.blocks[i].start] = i
	}
	s.resync = r
	return last.blocks[:k]
}

// shifted is b moved by delta bytes and lines lines: its text starts a
// line, so columns do not change. The block's tokens, comments and
// problems are moved where they are: only the last lexing, which the
// new one replaces, holds them (the trees of a parse hold copies).
func (b lexBlock) shifted(delta, lines int) lexBlock {
	if delta == 0 && lines == 0 {
		return b
	}
	move := func(p *lexer.Position) {
		if p.Line != 0 {
			p.Offset += delta
			p.Line += lines
		}
	}
	movePos := func(p *Pos) {
		if p.Line != 0 {
			p.Offset += delta
			p.Line += lines
		}
	}
	for _, toks := range [][]lexer.Token{b.toks, b.lead, b.trail} {
		for i := range toks {
			move(&toks[i].Pos)
		}
	}
	if len(b.parts) > 0 {
		parts := make(folded, len(b.parts))
		for off, toks := range b.parts {
			for i := range toks {
				move(&toks[i].Pos)
			}
			parts[off+delta] = toks
		}
		b.parts = parts
	}
	for i := range b.comments {
		movePos(&b.comments[i].Pos)
		movePos(&b.comments[i].End)
	}
	for i := range b.errs {
		movePos(&b.errs[i].Pos)
	}
	b.start, b.end, b.line = b.start+delta, b.end+delta, b.line+lines
	return b
}

// lexCached lexes src with the last lexing of the file, and returns its
// blocks (normalised and folded), its comments and problems, its end of
// input, whether a bracket is left open, and the lexing to keep for the
// next time (nil when one is left open: the end's state is not a
// block's), and how many blocks it took from the last lexing.
func lexCached(filename, src string, last *lexed) (blocks []foldedBlock, comments []Comment, errs Errors, eof lexer.Token, unclosed bool, next *lexed, kept int) {
	s := newScanner(filename, src, true)
	prefix := last.resume(s)
	s.run()
	raw := s.allBlocks()
	var all []lexBlock
	all = append(all, prefix...)
	if s.resync == nil {
		// The whole text was lexed: its UTF-8 problems come first.
		errs = append(errs, s.errs[:s.marks[0].errs]...)
	}
	for i, toks := range raw {
		m := s.marks[i]
		b := lexBlock{start: m.start, line: m.line}
		cEnd, eEnd := len(s.comments), s.blockErrs
		if i+1 < len(s.marks) {
			cEnd, eEnd = s.marks[i+1].comments, s.marks[i+1].errs
		}
		b.comments, b.errs = s.comments[m.comments:cEnd], s.errs[m.errs:eEnd]
		if i == len(raw)-1 {
			eof = toks[len(toks)-1]
			toks = toks[:len(toks)-1]
		}
		fb := foldBlock(toks)
		b.toks, b.parts, b.lead, b.trail = fb.toks, fb.parts, fb.lead, fb.trail
		all = append(all, b)
	}
	kept = len(prefix)
	if s.resync != nil {
		all = append(all, s.resync.tail...)
		kept += len(s.resync.tail)
	}
	for i := range all {
		all[i].end = len(src)
		if i+1 < len(all) {
			all[i].end = all[i+1].start
		}
		blocks = append(blocks, foldedBlock{toks: all[i].toks, parts: all[i].parts, lead: all[i].lead, trail: all[i].trail})
		comments = append(comments, all[i].comments...)
		errs = append(errs, all[i].errs...)
	}
	errs = append(errs, s.errs[s.blockErrs:]...)
	if s.unclosed {
		return blocks, comments, errs, eof, true, nil, kept
	}
	return blocks, comments, errs, eof, false, &lexed{src: src, blocks: all, line: s.line, lineStart: s.lineStart}, kept
}
