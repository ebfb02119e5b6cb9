package lsp

import (
	"regexp"
	"strings"
)

// outline is what one pass over a document's text finds, whether or not
// it parses: its sections, its brackets (blocks, arrays, parentheses)
// with the key that opens each, its variables, its #include directives,
// and the names it writes (strings and keys) with the key they are the
// value of. Completion, hover, symbols, definitions and renames read it;
// it is made again for every version of a document.
type outline struct {
	sections []section
	frames   []frame
	vars     []name // $name: definitions
	varUses  []name // $name and ${name} uses
	includes []include
	names    []name // strings, and keys of blocks in lists of names (depends_on { db: ... })
}

// section is a [header] line.
type section struct {
	path     []string // [a.b] is a, b
	off, end int      // the header's brackets
}

// frame is one bracket pair: '{' (a block or an object), '>' (an angle
// block), '[' or '('. close is -1 while unclosed.
type frame struct {
	kind        byte
	key         string // the key it is the value of ("" for none)
	keyOff      int    // where that key is written (-1: not written here)
	open, close int
	section     int // the index of its section (-1: before any)
	parent      int // the enclosing frame (-1: none)
}

// name is a word or a string of the text: its value, where it is (the
// value's own bytes, without quotes) and the key it belongs to.
type name struct {
	value    string
	off, end int
	key      string // the key whose value it is, or whose list it is in
	isKey    bool   // a key (of a block in a list of names)
	frame    int    // the innermost frame around it (-1: none)
}

// include is an #include directive.
type include struct {
	path     string
	off, end int // the quoted path's bytes, without quotes
}

var headerLine = regexp.MustCompile(`^\[([A-Za-z0-9_.-]+)\][ \t]*(?:(?:#|//).*)?$`)

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// scan makes the outline of text.
func scan(text string) *outline {
	// Room for what the text holds, counted at once (growing the lists
	// as they fill was most of the time on a big file).
	o := &outline{
		frames: make([]frame, 0, strings.Count(text, "{")+strings.Count(text, "[")+strings.Count(text, "(")+1),
		names:  make([]name, 0, strings.Count(text, "\"")/2+strings.Count(text, ":")/4+1),
	}
	var stack []int
	cur := -1 // current section
	lastWord, lastWordOff := "", -1
	pendingKey, pendingKeyOff := "", -1 // a key followed by ':' or '=' whose value comes
	lineStart := true
	top := func() int {
		if len(stack) == 0 {
			return -1
		}
		return stack[len(stack)-1]
	}
	keyOfValue := func() string {
		if pendingKey != "" {
			return pendingKey
		}
		if t := top(); t >= 0 && o.frames[t].kind == '[' {
			return o.frames[t].key
		}
		return ""
	}
	reset := func() { lastWord, lastWordOff, pendingKey, pendingKeyOff = "", -1, "", -1 }
	lineEnd := func(i int) int {
		if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
			return i + j
		}
		return len(text)
	}
	restBlank := func(i int) bool {
		rest := strings.TrimSpace(text[i:lineEnd(i)])
		return rest == "" || strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "//")
	}
	push := func(kind byte, key string, keyOff, at int) {
		o.frames = append(o.frames, frame{kind: kind, key: key, keyOff: keyOff, open: at, close: -1, section: cur, parent: top()})
		stack = append(stack, len(o.frames)-1)
	}
	pop := func(kind byte, at int) {
		for k := len(stack) - 1; k >= 0; k-- {
			if o.frames[stack[k]].kind == kind {
				for _, f := range stack[k:] {
					if o.frames[f].close < 0 {
						o.frames[f].close = at
					}
				}
				stack = stack[:k]
				return
			}
		}
	}
	i := 0
	if strings.HasPrefix(text, "\ufeff") {
		i = 3
	}
	for i < len(text) {
		c := text[i]
		switch {
		case c == '\n':
			lineStart = true
			if t := top(); t < 0 || o.frames[t].kind == '{' || o.frames[t].kind == '>' {
				reset()
			}
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '[' && lineStart && len(stack) == 0:
			end := lineEnd(i)
			if m := headerLine.FindStringSubmatch(strings.TrimRight(text[i:end], "\r")); m != nil {
				o.sections = append(o.sections, section{path: strings.Split(m[1], "."), off: i, end: i + len(m[1]) + 2})
				cur = len(o.sections) - 1
				reset()
				i = end
				continue
			}
		case c == '#' || c == '/' && i+1 < len(text) && text[i+1] == '/':
			if lineStart || i > 0 && (text[i-1] == ' ' || text[i-1] == '\t') {
				end := lineEnd(i)
				if lineStart && strings.HasPrefix(text[i:], "#include") {
					line := text[i:end]
					if q := strings.IndexByte(line, '"'); q >= 0 {
						if r := strings.IndexByte(line[q+1:], '"'); r >= 0 {
							o.includes = append(o.includes, include{path: line[q+1 : q+1+r], off: i + q + 1, end: i + q + 1 + r})
						}
					}
				}
				i = end
				continue
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			if j := strings.Index(text[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(text)
			}
			continue
		}
		lineStart = false
		switch {
		case c == '"' || c == '\'':
			start := i + 1
			end := start
			if c == '"' && strings.HasPrefix(text[i:], `"""`) {
				start = i + 3
				j := strings.Index(text[start:], `"""`)
				if j < 0 {
					j = len(text) - start
				}
				end = start + j
				i = min(end+3, len(text))
			} else {
				for end < len(text) && text[end] != c && text[end] != '\n' {
					if c == '"' && text[end] == '\\' {
						end++
					}
					end++
				}
				end = min(end, len(text))
				i = min(end+1, len(text))
			}
			if c == '"' {
				uses(o, text, start, end)
			}
			o.names = append(o.names, name{value: text[start:end], off: start, end: end, key: keyOfValue(), frame: top()})
			lastWord, lastWordOff = text[start:end], start
			continue
		case c == '$':
			j := i + 1
			for j < len(text) && isWordByte(text[j]) && text[j] != '.' {
				j++
			}
			if j > i+1 {
				n := name{value: text[i+1 : j], off: i + 1, end: j}
				if k := skipSpaces(text, j); k < len(text) && (text[k] == ':' || text[k] == '=') && pendingKey == "" && len(stack) == 0 {
					o.vars = append(o.vars, n)
					pendingKey, pendingKeyOff = "", -1
					i = k + 1
					continue
				}
				o.varUses = append(o.varUses, n)
			}
			i = j
			continue
		case isWordByte(c):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			word := text[i:j]
			if t := top(); t >= 0 && pendingKey == "" {
				// A key of a block that lists names (depends_on { db: "healthy" }).
				if f := o.frames[t]; f.kind == '{' {
					if k := skipSpaces(text, j); k < len(text) && text[k] == ':' {
						o.names = append(o.names, name{value: word, off: i, end: j, key: f.key, isKey: true, frame: t})
					}
				}
			}
			if pendingKey != "" || (top() >= 0 && o.frames[top()].kind == '[') {
				o.names = append(o.names, name{value: word, off: i, end: j, key: keyOfValue(), frame: top()})
			}
			lastWord, lastWordOff = word, i
			i = j
			continue
		case c == ':' || c == '=':
			if lastWord != "" && pendingKey == "" {
				pendingKey, pendingKeyOff = lastWord, lastWordOff
			}
		case c == '{':
			key, keyOff := lastWord, lastWordOff
			if pendingKey != "" {
				key, keyOff = pendingKey, pendingKeyOff
			}
			if t := top(); t >= 0 && o.frames[t].kind == '[' {
				key, keyOff = o.frames[t].key, -1 // an object in a list: of the list's key
			}
			push('{', key, keyOff, i)
			reset()
		case c == '[':
			push('[', pendingKey, pendingKeyOff, i)
			lastWord, lastWordOff = "", -1
		case c == '(':
			push('(', "", -1, i)
		case c == '}':
			pop('{', i)
			reset()
		case c == ']':
			pop('[', i)
			pendingKey, pendingKeyOff = "", -1
		case c == ')':
			pop('(', i)
		case c == '>' && lastWord != "" && pendingKey == "" && restBlank(i+1):
			push('>', lastWord, lastWordOff, i)
			reset()
		case c == '<' && strings.TrimSpace(text[lineStartOf(text, i):lineEnd(i)]) == "<":
			pop('>', i)
			reset()
		case c == ',' || c == ';':
			if t := top(); t < 0 || o.frames[t].kind != '[' {
				reset()
			}
		}
		i++
	}
	return o
}

// uses records the ${name} of a double-quoted string's bytes.
func uses(o *outline, text string, start, end int) {
	for k := start; k+2 < end; k++ {
		if text[k] == '$' && text[k+1] == '{' {
			if j := strings.IndexByte(text[k:end], '}'); j > 2 {
				v := text[k+2 : k+j]
				if !strings.Contains(v, ".") {
					o.varUses = append(o.varUses, name{value: v, off: k + 2, end: k + j})
				}
			}
		}
	}
}

func skipSpaces(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

func lineStartOf(text string, i int) int { return strings.LastIndexByte(text[:i], '\n') + 1 }

// sectionAt returns the index of the section off is in (-1: before any).
func (o *outline) sectionAt(off int) int {
	s := -1
	for i, sec := range o.sections {
		if sec.off <= off {
			s = i
		}
	}
	return s
}

// framesAt returns the frames around off, outermost first.
func (o *outline) framesAt(off int) []int {
	var inner = -1
	for i, f := range o.frames {
		if f.open < off && (f.close < 0 || off <= f.close) {
			inner = i // frames are in order of opening: the last is the innermost
		}
	}
	var out []int
	for f := inner; f >= 0; f = o.frames[f].parent {
		out = append([]int{f}, out...)
	}
	return out
}

// pathAt is the keys around off: its section's, then its blocks', as a
// dotted path's parts ([services users] inside `[services] users { ... }`).
func (o *outline) pathAt(off int) []string {
	var path []string
	if s := o.sectionAt(off); s >= 0 {
		path = append(path, o.sections[s].path...)
	}
	for _, f := range o.framesAt(off) {
		if fr := o.frames[f]; (fr.kind == '{' || fr.kind == '>') && fr.key != "" {
			path = append(path, fr.key) // an object of a list: the list's key
		}
	}
	return path
}
