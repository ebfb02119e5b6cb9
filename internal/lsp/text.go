package lsp

import (
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	protocol "github.com/tliron/glsp/protocol_3_16"
	"github.com/tuskcompose/composer/tsk"
)

// text is a document's content with the offsets of its lines, and the
// conversions between byte offsets and LSP positions, whose characters
// count in the session's position encoding: UTF-16 code units (the
// protocol's default), or UTF-8 bytes or UTF-32 code points when the
// client offers them (LSP 3.17's positionEncodings).
type text struct {
	s     string
	lines []int // the offset of each line's first byte
	enc   string
}

// The position encodings.
const (
	utf16 = "utf-16"
	utf8e = "utf-8"
	utf32 = "utf-32"
)

func newText(s string) *text { return newTextIn(s, utf16) }

func newTextIn(s, enc string) *text {
	t := &text{s: s, lines: []int{0}, enc: enc}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

// offset is the byte offset of an LSP position (clamped to the text).
func (t *text) offset(p protocol.Position) int {
	line := int(p.Line)
	if line >= len(t.lines) {
		return len(t.s)
	}
	off, end := t.lines[line], len(t.s)
	if line+1 < len(t.lines) {
		end = t.lines[line+1] - 1
	}
	for units := 0; off < end && units < int(p.Character); {
		r, size := utf8.DecodeRuneInString(t.s[off:])
		units += t.units(r, size)
		off += size
	}
	return off
}

// at is the byte offset of a position of package tsk (a line and a
// column in bytes, both from 1; its diagnostics carry no offset), clamped
// to the text; a position of no line is the start.
func (t *text) at(p tsk.Pos) int {
	if p.Line <= 0 {
		return 0
	}
	if p.Line > len(t.lines) {
		return len(t.s)
	}
	return min(t.lines[p.Line-1]+max(p.Column, 1)-1, len(t.s))
}

// position is the LSP position of a byte offset.
func (t *text) position(off int) protocol.Position {
	off = max(0, min(off, len(t.s)))
	line := sort.Search(len(t.lines), func(i int) bool { return t.lines[i] > off }) - 1
	units := 0
	for i := t.lines[line]; i < off; {
		r, size := utf8.DecodeRuneInString(t.s[i:])
		units += t.units(r, size)
		i += size
	}
	return protocol.Position{Line: protocol.UInteger(line), Character: protocol.UInteger(units)}
}

func (t *text) rangeOf(off, end int) protocol.Range {
	return protocol.Range{Start: t.position(off), End: t.position(end)}
}

// units is how many characters of the encoding a rune of size bytes is.
func (t *text) units(r rune, size int) int {
	switch {
	case t.enc == utf8e:
		return size
	case t.enc == utf32 || r < 0x10000:
		return 1
	}
	return 2
}

// apply returns the text after an incremental change (its range in t's
// encoding).
func (t *text) apply(r protocol.Range, repl string) string {
	a, b := t.offset(r.Start), t.offset(r.End)
	if b < a {
		a, b = b, a
	}
	return t.s[:a] + repl + t.s[b:]
}

// pathOf is the file path of a file:// URI ("" for another scheme).
func pathOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return ""
	}
	return filepath.Clean(filepath.FromSlash(u.Path))
}

// uriOf is the file:// URI of a path.
func uriOf(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// wordAt returns the word (key characters) around off and where it starts.
func wordAt(s string, off int) (string, int) {
	a, b := off, off
	for a > 0 && isWordByte(s[a-1]) && s[a-1] != '.' {
		a--
	}
	for b < len(s) && isWordByte(s[b]) && s[b] != '.' {
		b++
	}
	return s[a:b], a
}

// lineBefore is the part of off's line before it.
func lineBefore(s string, off int) string {
	return strings.TrimRight(s[lineStartOf(s, off):off], "\r")
}
