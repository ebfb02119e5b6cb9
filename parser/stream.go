package parser

// This file holds the token stream between the lexer and the grammar:
// normalisation of separators and participle's lexer interface.

import (
	"io"

	"github.com/alecthomas/participle/v2/lexer"
)

// normalize makes separators canonical: one Sep token between two items,
// none at the start, after an opening bracket or before a closing one, so
// the grammar can say `Item (Sep Item)*`. A trailing comma is allowed.
func normalize(toks []lexer.Token) []lexer.Token {
	out := toks[:0]
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Type != tokSep {
			out = append(out, t)
			continue
		}
		// Collapse a run of separators; keep a ',' or ';' over a newline
		// for the error messages' sake.
		j := i
		for j+1 < len(toks) && toks[j+1].Type == tokSep {
			j++
			if t.Value == "\n" {
				t = toks[j]
			}
		}
		i = j
		if len(out) == 0 || isOpener(out[len(out)-1]) {
			continue
		}
		if j+1 == len(toks) || toks[j+1].Type == tokEOF || isCloser(toks[j+1]) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func isOpener(t lexer.Token) bool {
	switch t.Type {
	case tokHeaderOpen, tokOpen:
		return true
	case tokPunct:
		return t.Value == "[" || t.Value == "("
	}
	return false
}

func isCloser(t lexer.Token) bool {
	switch t.Type {
	case tokClose:
		return true
	case tokPunct:
		return t.Value == "]" || t.Value == ")"
	}
	return false
}

// lexDefinition adapts the scanner to participle's lexer.Definition.
type lexDefinition struct{}

func (lexDefinition) Symbols() map[string]lexer.TokenType { return tokenSymbols() }

func (lexDefinition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s := newScanner(filename, string(b), false)
	s.run()
	toks, _ := fold(normalize(s.tokens()))
	return &sliceLexer{toks: toks[:len(toks)-1], eof: toks[len(toks)-1]}, nil
}

// sliceLexer feeds already lexed tokens to participle, then eof.
type sliceLexer struct {
	toks []lexer.Token
	eof  lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	if l.i >= len(l.toks) {
		return l.eof, nil
	}
	t := l.toks[l.i]
	l.i++
	return t, nil
}
