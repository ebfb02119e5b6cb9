package parser

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types produced by the TuskLang lexer. The lexer does the
// context-sensitive work (it knows a key from a value and a unary minus from
// a binary one), so that the grammar can choose every alternative by the
// type of one token.
const (
	tokEOF                        = lexer.EOF
	tokSep        lexer.TokenType = iota + 1 // end of line, ',' or ';'
	tokKey                                   // an entry's key: name, tusk-core, 404, "content-type"
	tokVarName                               // $name defining a variable
	tokAssign                                // ':' or '=' after a key
	tokScalar                                // a literal value: see ScalarKind
	tokValue                                 // a Scalar that makes up a whole value
	tokPairs                                 // a run of simple entries (see fold)
	tokCall                                  // @name, or name directly followed by '('
	tokPrefix                                // unary '!' or '-'
	tokBinOp                                 // + - * / % == != < <= > >= && || |
	tokOpen                                  // '{' or the '>' of an angle block
	tokClose                                 // '}' or the '<' of an angle block
	tokInclude                               // #include at line start
	tokHeaderOpen                            // '[' opening a [section] header
	tokPunct                                 // [ ] ( ) . ? : and stray characters
)

// tokenSymbols is a function, not a variable, so the parsers built at
// package initialisation can call it whatever the initialisation order.
func tokenSymbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":        tokEOF,
		"Sep":        tokSep,
		"Key":        tokKey,
		"VarName":    tokVarName,
		"Assign":     tokAssign,
		"Scalar":     tokScalar,
		"Value":      tokValue,
		"Pairs":      tokPairs,
		"Call":       tokCall,
		"Prefix":     tokPrefix,
		"BinOp":      tokBinOp,
		"Open":       tokOpen,
		"Close":      tokClose,
		"Include":    tokInclude,
		"HeaderOpen": tokHeaderOpen,
		"Punct":      tokPunct,
	}
}

// describeToken names a token the way an error message should, e.g.
// `end of line`, `"}"`, `key "tonic"`.
func describeToken(t lexer.Token) string {
	switch t.Type {
	case tokEOF:
		return "end of input"
	case tokSep:
		switch t.Value {
		case ",":
			return `","`
		case ";":
			return `";"`
		}
		return "end of line"
	case tokKey:
		return fmt.Sprintf("%q", t.Value)
	case tokScalar, tokValue:
		switch ScalarKind(t.Value) {
		case KindString, KindRawString, KindMultiString, KindHeredoc:
			return "string " + abbreviate(t.Value)
		case KindInt, KindFloat:
			return "number " + t.Value
		case KindRange:
			return "range " + t.Value
		case KindVar:
			return "variable " + t.Value
		case KindIdent:
			return fmt.Sprintf("%q", t.Value)
		}
		return fmt.Sprintf("bare string %q", t.Value)
	case tokCall:
		if strings.HasPrefix(t.Value, "@") {
			return "operator " + t.Value
		}
		return "call " + t.Value + "("
	case tokPairs:
		return fmt.Sprintf("%q", t.Value)
	case tokInclude:
		return "#include"
	}
	return fmt.Sprintf("%q", t.Value)
}

func abbreviate(s string) string {
	const max = 32
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// Kind is the kind of a scalar token.
type Kind uint8

// The kinds of scalar tokens.
const (
	KindWord        Kind = iota // bare string: hello world, 100MB, /usr/bin
	KindIdent                   // a lone identifier: true, null, host, example.com
	KindString                  // "double quoted"
	KindRawString               // 'single quoted'
	KindMultiString             // """multi-line"""
	KindHeredoc                 // <<<TAG ... TAG
	KindInt                     // 42, -7 (with its prefix), 0xFF, 1_000
	KindFloat                   // 3.14, 1.23e-4
	KindRange                   // 8000-9000
	KindVar                     // $name
)

// ScalarKind classifies the text of a Scalar token. The lexer only makes
// scalars whose kind this function recovers exactly.
func ScalarKind(v string) Kind {
	if v == "" {
		return KindWord
	}
	switch c := v[0]; {
	case strings.HasPrefix(v, `"""`):
		return KindMultiString
	case c == '"':
		return KindString
	case c == '\'':
		return KindRawString
	case strings.HasPrefix(v, "<<<"):
		return KindHeredoc
	case c == '$':
		return KindVar
	case isDigit(c):
		s := scanner{src: v}
		if end, typ, ok := s.lexNumber(0); ok && end == len(v) {
			return typ
		}
	case isLetter(c):
		s := scanner{src: v}
		if s.scanName(0, true) == len(v) {
			return KindIdent
		}
	}
	return KindWord
}
