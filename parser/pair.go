package parser

import "github.com/alecthomas/participle/v2/lexer"

// Folding. participle's parser allocates some twenty times for every token
// it captures, so the lexer's output is folded before parsing: a run of
// simple entries, the bulk of every configuration file,
//
//	key: scalar                       (Key Assign Value)
//	key: [scalar, scalar, ...]        (Key Assign '[' Value (Sep Value)* ']')
//
// separated by Sep tokens, becomes one Pairs token, which the grammar
// accepts wherever an entry may stand. unfold puts the entries back into
// the tree, so that nobody after the parser sees a Pairs token. Grammar-wise
// a Pairs token is exactly `Entry (Sep Entry)*` for those entry shapes.

// folded maps the offset of each Pairs token to the tokens it stands for.
type folded map[int][]lexer.Token

// simpleEntryLen returns the length of the simple entry at the start of
// toks, or 0.
func simpleEntryLen(toks []lexer.Token) int {
	if len(toks) < 3 || toks[0].Type != tokKey || toks[1].Type != tokAssign {
		return 0
	}
	n := 0
	switch t := toks[2]; {
	case t.Type == tokValue:
		n = 3
	case t.Type == tokPunct && t.Value == "[":
		i := 3
		if i < len(toks) && toks[i].Type == tokValue {
			i++
			for i+1 < len(toks) && toks[i].Type == tokSep && toks[i+1].Type == tokValue {
				i += 2
			}
		}
		if i >= len(toks) || toks[i].Type != tokPunct || toks[i].Value != "]" {
			return 0
		}
		n = i + 1
	default:
		return 0
	}
	// The entry must end there.
	if n < len(toks) {
		if next := toks[n]; next.Type != tokSep && next.Type != tokClose && next.Type != tokEOF {
			return 0
		}
	}
	return n
}

// fold replaces runs of simple entries by Pairs tokens (see above).
func fold(toks []lexer.Token) ([]lexer.Token, folded) {
	out := make([]lexer.Token, 0, len(toks)/2)
	parts := folded{}
	for i := 0; i < len(toks); {
		n := simpleEntryLen(toks[i:])
		if n == 0 {
			out = append(out, toks[i])
			i++
			continue
		}
		start, end := i, i+n
		for end+1 < len(toks) && toks[end].Type == tokSep {
			m := simpleEntryLen(toks[end+1:])
			if m == 0 {
				break
			}
			end += 1 + m
		}
		first := toks[start]
		parts[first.Pos.Offset] = toks[start:end]
		out = append(out, lexer.Token{Type: tokPairs, Value: first.Value, Pos: first.Pos})
		i = end
	}
	return out, parts
}

// unfold replaces every Pairs item of items (and of the blocks inside them)
// by the entries it stands for.
func (parts folded) unfold(items []*Item) []*Item {
	n := 0
	for _, it := range items {
		if it.Pairs != nil {
			n++
		}
	}
	out := items
	if n > 0 {
		out = make([]*Item, 0, len(items)+4*n)
	}
	for _, it := range items {
		switch {
		case it.Pairs != nil:
			out = append(out, entries(parts[it.Pairs.Pos.Offset])...)
			continue
		case it.Entry != nil:
			it.Entry.walkBlocks(parts.unfold)
		case it.VarDef != nil:
			it.VarDef.Value.walkBlocks(parts.unfold)
		}
		if n > 0 {
			out = append(out, it)
		}
	}
	return out
}

// entries rebuilds the entries of a folded run. The nodes of a run are
// allocated together.
func entries(toks []lexer.Token) []*Item {
	n := 0
	for i := 0; i < len(toks); i++ {
		if toks[i].Type == tokAssign {
			n++
		}
	}
	items := make([]*Item, 0, n)
	itemSlab, entrySlab, exprSlab := make([]Item, n), make([]Entry, n), make([]Expr, n)
	for i := 0; len(toks) > 0; i++ {
		size := simpleEntryLen(toks)
		e := &entrySlab[i]
		e.Key = toks[0]
		e.Value = &exprSlab[i]
		if size == 3 {
			e.Value.Simple = toks[2]
		} else {
			arr := &Array{Open: toks[2], Close: toks[size-1]}
			for _, t := range toks[3 : size-1] {
				if t.Type == tokValue {
					arr.Items = append(arr.Items, &Expr{Simple: t})
				}
			}
			e.Value.Head = &Primary{Array: arr}
		}
		itemSlab[i].Entry = e
		items = append(items, &itemSlab[i])
		if size < len(toks) {
			size++ // the separator
		}
		toks = toks[size:]
	}
	return items
}

// walkBlocks applies f to the statement lists of the blocks and objects
// inside the entry's value, replacing each list by f's result.
func (e *Entry) walkBlocks(f func([]*Item) []*Item) {
	switch {
	case e.Block != nil:
		e.Block.Items = f(e.Block.Items)
	case e.Value != nil:
		e.Value.walkBlocks(f)
	case e.Array != nil:
		e.Array.walkBlocks(f)
	}
}

func (a *Array) walkBlocks(f func([]*Item) []*Item) {
	for _, x := range a.Items {
		x.walkBlocks(f)
	}
}

func (x *Expr) walkBlocks(f func([]*Item) []*Item) {
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

func (p *Primary) walkBlocks(f func([]*Item) []*Item) {
	switch {
	case p.Object != nil:
		p.Object.Items = f(p.Object.Items)
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

func (a *Args) walkBlocks(f func([]*Item) []*Item) {
	if a == nil {
		return
	}
	for _, x := range a.Items {
		x.walkBlocks(f)
	}
}
