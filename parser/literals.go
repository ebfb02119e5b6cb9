package parser

// This file lexes literals: numbers, strings and heredocs.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// lexNumber reads a number literal at off and returns its end and type.
// ok is false when the digits run on into other word characters (100MB,
// 2024-01-01, 1.2.3): such a value is a bare string, or an error inside an
// expression.
func (s *scanner) lexNumber(off int) (end int, typ Kind, ok bool) {
	src := s.src
	digits := func(i int, valid func(byte) bool) int {
		for i < len(src) && (valid(src[i]) || src[i] == '_' && i+1 < len(src) && valid(src[i+1])) {
			i++
		}
		return i
	}
	isHex := func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	isOct := func(c byte) bool { return c >= '0' && c <= '7' }
	isBin := func(c byte) bool { return c == '0' || c == '1' }
	typ = KindInt
	i := off
	if src[i] == '0' && i+1 < len(src) && strings.IndexByte("xXoObB", src[i+1]) >= 0 {
		valid := isHex
		switch src[i+1] {
		case 'o', 'O':
			valid = isOct
		case 'b', 'B':
			valid = isBin
		}
		j := digits(i+2, valid)
		if j == i+2 {
			return j, typ, false
		}
		i = j
	} else {
		i = digits(i, isDigit)
		plain := true
		if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
			i = digits(i+1, isDigit)
			typ, plain = KindFloat, false
		}
		if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
			j := i + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && isDigit(src[j]) {
				i = digits(j, isDigit)
				typ, plain = KindFloat, false
			}
		}
		if plain && i+1 < len(src) && src[i] == '-' && isDigit(src[i+1]) && !strings.Contains(src[off:i], "_") {
			i = digits(i+1, isDigit)
			typ = KindRange
		}
	}
	if i < len(src) {
		c := src[i]
		if isIdentChar(c) || c == '.' || (c == '-' || c == ':') && i+1 < len(src) && isDigit(src[i+1]) {
			return i, typ, false
		}
	}
	return i, typ, true
}

// lexString reads a "double", 'single' or """triple""" quoted string at s.pos.
func (s *scanner) lexString() {
	start := s.pos
	src := s.src
	if strings.HasPrefix(src[start:], `"""`) {
		i := start + 3
		for {
			if i >= len(src) {
				s.errorf(start, `unterminated multi-line string (missing closing """)`)
				startPos := s.position(start)
				s.advanceTo(len(src))
				s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: src[start:], Pos: startPos})
				return
			}
			if src[i] == '\\' {
				s.checkEscape(i)
				i += 2
				continue
			}
			if strings.HasPrefix(src[i:], `"""`) {
				// Quotes right before the closing ones belong to the string, as in TOML.
				for i+3 < len(src) && src[i+3] == '"' {
					i++
				}
				break
			}
			i++
		}
		s.advanceTo(i + 3)
		s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: src[start : i+3], Pos: s.posOf(start)})
		return
	}
	quote := src[start]
	i := start + 1
	for {
		if i >= len(src) || quote == '\'' && src[i] == '\n' {
			s.unterminated(start, quote)
			return
		}
		c := src[i]
		if c == quote {
			break
		}
		if c == '\\' && quote == '"' {
			if i+1 >= len(src) {
				s.unterminated(start, quote)
				return
			}
			s.checkEscape(i)
			i += 2
			continue
		}
		i++
	}
	// A "string" may span lines, but one whose closing quote is followed
	// by more text is a string whose closing quote is missing: the quote
	// found belongs to a later line.
	if strings.IndexByte(src[start:i], '\n') >= 0 {
		if next := s.skipBlanks(i + 1); !s.valueEndAt(next) && !s.isOperatorStart(next) && src[next] != '?' && src[next] != ':' {
			s.unterminated(start, quote)
			return
		}
	}
	startPos := s.posOf(start)
	s.advanceTo(i + 1)
	s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: src[start : i+1], Pos: startPos})
}

// unterminated reports a string without its closing quote; the string is
// taken to end with its first line, so the lines after it still parse.
func (s *scanner) unterminated(start int, quote byte) {
	s.errorf(start, "unterminated string (missing closing %c)", quote)
	s.pos = s.lineEnd(start)
	// The token is well formed so that the parser does not report it again.
	s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: `""`, Pos: s.position(start)})
}

// checkEscape validates the escape sequence whose backslash is at off.
func (s *scanner) checkEscape(off int) {
	if off+1 >= len(s.src) {
		return
	}
	switch s.src[off+1] {
	case 'n', 't', 'r', '\\', '"', '\'', '$':
		return
	case 'u':
		if off+6 <= len(s.src) && isHexString(s.src[off+2:off+6]) {
			return
		}
		s.errorAtOffset(off, `invalid escape \u: expected four hexadecimal digits`)
		return
	}
	r, _ := utf8.DecodeRuneInString(s.src[off+1:])
	s.errorAtOffset(off, fmt.Sprintf(`invalid escape \%c (valid escapes: \n \t \r \\ \" \' \$ \uXXXX)`, r))
}

func isHexString(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// posOf computes the position of an offset at or before s.pos, which may be
// on an earlier line than the current one (multi-line strings).
func (s *scanner) posOf(off int) lexer.Position {
	if off >= s.lineStart {
		return s.position(off)
	}
	line, ls := s.line, s.lineStart
	for ls > off {
		ls = strings.LastIndexByte(s.src[:ls-1], '\n') + 1
		line--
	}
	return lexer.Position{Filename: s.file, Offset: off, Line: line, Column: off - ls + 1}
}

func (s *scanner) errorAtOffset(off int, msg string) {
	// Escapes are checked before the scanner has advanced past them, so
	// the offset can be on a later line than s.line.
	line, ls := s.line, s.lineStart
	for {
		nl := strings.IndexByte(s.src[ls:], '\n')
		if nl < 0 || ls+nl >= off {
			break
		}
		ls += nl + 1
		line++
	}
	s.errs = append(s.errs, Error{Pos: PosOf(lexer.Position{Filename: s.file, Offset: off, Line: line, Column: off - ls + 1}), Msg: msg})
}

// advanceTo moves s.pos to end, counting the newlines passed.
func (s *scanner) advanceTo(end int) {
	for {
		nl := strings.IndexByte(s.src[s.pos:end], '\n')
		if nl < 0 {
			break
		}
		s.pos += nl
		s.newline()
	}
	s.pos = end
}

// lexHeredoc reads <<<TAG ... TAG (or <<<'TAG' for a raw nowdoc) at s.pos.
func (s *scanner) lexHeredoc() {
	start := s.pos
	i := start + 3
	quoted := i < len(s.src) && s.src[i] == '\''
	if quoted {
		i++
	}
	tagEnd := s.scanName(i, false)
	tag := s.src[i:tagEnd]
	i = tagEnd
	if quoted {
		if i < len(s.src) && s.src[i] == '\'' {
			i++
		} else {
			s.errorf(start, "heredoc tag <<<'%s is missing its closing quote", tag)
		}
	}
	if !s.restOfLineEmpty(i) {
		s.errorf(i, "heredoc content must start on the line after <<<%s", tag)
	}
	nl := strings.IndexByte(s.src[i:], '\n')
	if nl < 0 {
		s.errorf(start, "heredoc <<<%s is never closed (expected a line with %s)", tag, tag)
		s.pos = len(s.src)
		s.emit(tokScalar, start, len(s.src))
		return
	}
	lineStart := i + nl + 1
	for lineStart <= len(s.src) {
		j := s.skipBlanks(lineStart)
		if strings.HasPrefix(s.src[j:], tag) && (j+len(tag) == len(s.src) || !isIdentChar(s.src[j+len(tag)])) {
			end := j + len(tag)
			startPos := s.position(start)
			s.advanceTo(end)
			s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: s.src[start:end], Pos: startPos})
			return
		}
		nl := strings.IndexByte(s.src[lineStart:], '\n')
		if nl < 0 {
			break
		}
		lineStart += nl + 1
	}
	s.errorf(start, "heredoc <<<%s is never closed (expected a line with %s)", tag, tag)
	s.advanceTo(len(s.src))
	s.toks = append(s.toks, lexer.Token{Type: tokScalar, Value: s.src[start:], Pos: s.posOf(start)})
}
