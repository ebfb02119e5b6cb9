package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// splitPairs replaces every Pair token of the tree with the Entry it stands
// for, so that consumers see one shape for every entry.
func splitPairs(items []*Item) {
	for _, it := range items {
		switch {
		case it.Pair.Type == tokPair:
			key, value := splitPair(it.Pair)
			it.Entry = &Entry{Key: key, Value: &Expr{Simple: value}}
			it.Pair = lexer.Token{}
		case it.Entry != nil:
			it.Entry.walkBlocks(splitPairs)
		}
	}
}

func (e *Entry) walkBlocks(f func([]*Item)) {
	switch {
	case e.Block != nil:
		f(e.Block.Items)
	case e.Value != nil:
		e.Value.walkBlocks(f)
	case e.Array != nil:
		e.Array.walkBlocks(f)
	}
}

func (a *Array) walkBlocks(f func([]*Item)) {
	for _, x := range a.Items {
		x.walkBlocks(f)
	}
}

func (x *Expr) walkBlocks(f func([]*Item)) {
	if x == nil || x.Head == nil {
		return
	}
	x.Head.walkBlocks(f)
	for _, op := range x.Tail {
		op.Right.walkBlocks(f)
	}
	x.Then.walkBlocks(f)
	x.Else.walkBlocks(f)
}

func (p *Primary) walkBlocks(f func([]*Item)) {
	switch {
	case p.Object != nil:
		f(p.Object.Items)
	case p.Array != nil:
		p.Array.walkBlocks(f)
	case p.Paren != nil:
		p.Paren.walkBlocks(f)
	case p.Call != nil:
		p.Call.Args.walkBlocks(f)
		for _, l := range p.Call.Chain {
			l.Args.walkBlocks(f)
		}
	}
}

func (a *Args) walkBlocks(f func([]*Item)) {
	if a == nil {
		return
	}
	for _, x := range a.Items {
		x.walkBlocks(f)
	}
}

// splitPair takes a Pair token apart into its Key and Value tokens.
func splitPair(t lexer.Token) (key, value lexer.Token) {
	s := scanner{src: t.Value}
	var end int
	if c := t.Value[0]; c == '"' || c == '\'' {
		s.lexString()
		end = s.pos
	} else {
		end = s.scanName(0, false)
	}
	key = lexer.Token{Type: tokKey, Value: t.Value[:end], Pos: t.Pos}
	i := s.skipBlanks(end) + 1 // past ':' or '='
	i = s.skipBlanks(i)
	vpos := t.Pos
	vpos.Offset += i
	if nl := strings.LastIndexByte(t.Value[:i], '\n'); nl >= 0 {
		vpos.Line += strings.Count(t.Value[:i], "\n")
		vpos.Column = i - nl
	} else {
		vpos.Column += i
	}
	value = lexer.Token{Type: tokValue, Value: t.Value[i:], Pos: vpos}
	return key, value
}
