package parser

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// StrPart is one piece of a decoded string literal: literal Text, or an
// interpolation `${Path}` when Path is set. Offset is the byte offset of
// the piece in the literal as written (for positions of errors).
type StrPart struct {
	Text   string
	Path   string
	Offset int
}

// DecodeString decodes a string literal as written (quotes included) into
// its pieces:
//   - "double" and """multi-line""": escapes (\n \t \r \\ \" \' \$
//     \uXXXX) and ${name} / ${a.b.c} interpolation; any other $ is text.
//     In """, a newline right after the opening quotes is dropped.
//   - 'single': raw text.
//   - <<<TAG heredoc: like "double"; the indentation of the closing TAG
//     line is removed from every line, and the newline before it is not
//     part of the string. <<<'TAG' (nowdoc) is raw.
//
// The lexer has already reported malformed escapes; here they are kept as
// written.
func DecodeString(raw string) []StrPart {
	switch ScalarKind(raw) {
	case KindRawString:
		if len(raw) < 2 || raw[len(raw)-1] != '\'' {
			return []StrPart{{Offset: 1}}
		}
		return []StrPart{{Text: raw[1 : len(raw)-1], Offset: 1}}
	case KindMultiString:
		if len(raw) < 6 || !strings.HasSuffix(raw, `"""`) {
			return []StrPart{{Offset: 3}} // unterminated: the lexer reported it
		}
		body, off := raw[3:len(raw)-3], 3
		if strings.HasPrefix(body, "\r\n") {
			body, off = body[2:], 5
		} else if strings.HasPrefix(body, "\n") {
			body, off = body[1:], 4
		}
		return decodeEscapes(body, off)
	case KindHeredoc:
		return decodeHeredoc(raw)
	case KindString:
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return []StrPart{{Offset: 1}}
		}
		return decodeEscapes(raw[1:len(raw)-1], 1)
	}
	return []StrPart{{Text: raw}}
}

// StringText is DecodeString for a string without interpolation (a quoted
// key): interpolations are kept as written.
func StringText(raw string) string {
	var b strings.Builder
	for _, p := range DecodeString(raw) {
		if p.Path != "" {
			b.WriteString("${" + p.Path + "}")
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func decodeHeredoc(raw string) []StrPart {
	nl := strings.IndexByte(raw, '\n')
	header := raw[3:]
	if nl >= 0 {
		header = raw[3:nl]
	}
	header = strings.TrimSpace(header)
	nowdoc := strings.HasPrefix(header, "'")
	lastNL := strings.LastIndexByte(raw, '\n')
	if nl < 0 || lastNL <= nl {
		return []StrPart{{Offset: len(raw)}}
	}
	closing := raw[lastNL+1:]
	indent := closing[:len(closing)-len(strings.TrimLeft(closing, " \t"))]
	body := raw[nl+1 : lastNL]
	if body == "" && lastNL == nl {
		return []StrPart{{Offset: nl + 1}}
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, indent)
	}
	text := strings.Join(lines, "\n")
	if nowdoc {
		return []StrPart{{Text: text, Offset: nl + 1}}
	}
	return decodeEscapes(text, nl+1)
}

// decodeEscapes decodes the body of a double-quoted string. off is the
// body's offset in the literal.
func decodeEscapes(body string, off int) []StrPart {
	if !strings.ContainsAny(body, `\$`) {
		return []StrPart{{Text: body, Offset: off}}
	}
	var parts []StrPart
	var b strings.Builder
	start := 0
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, StrPart{Text: b.String(), Offset: off + start})
		}
		b.Reset()
	}
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			switch e := body[i+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '"', '\'', '$':
				b.WriteByte(e)
			case 'u':
				if i+6 <= len(body) {
					if n, err := strconv.ParseUint(body[i+2:i+6], 16, 32); err == nil {
						b.WriteRune(rune(n))
						i += 6
						continue
					}
				}
				b.WriteString(body[i : i+2])
			default:
				b.WriteString(body[i : i+2])
			}
			i += 2
		case c == '$' && strings.HasPrefix(body[i:], "${"):
			s := scanner{src: body}
			end := s.scanName(i+2, true)
			if end > i+2 && end < len(body) && body[end] == '}' && isLetter(body[i+2]) {
				flush()
				parts = append(parts, StrPart{Path: body[i+2 : end], Offset: off + i})
				i = end + 1
				start = i
				continue
			}
			b.WriteByte(c)
			i++
		default:
			_, size := utf8.DecodeRuneInString(body[i:])
			b.WriteString(body[i : i+size])
			i += size
		}
	}
	flush()
	if len(parts) == 0 {
		parts = append(parts, StrPart{Offset: off})
	}
	return parts
}

// OffsetPos returns the position of byte off of a token that starts at pos
// and reads text.
func OffsetPos(pos Pos, text string, off int) Pos {
	off = min(off, len(text))
	before := text[:off]
	pos.Offset += off
	if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
		pos.Line += strings.Count(before, "\n")
		pos.Column = off - nl
	} else {
		pos.Column += off
	}
	return pos
}
