package parser

import "github.com/alecthomas/participle/v2/lexer"

// Every node has Pos, the position of its first token, and End, the
// position just after its last token.

// TokenEnd returns the position just after t.
func TokenEnd(t lexer.Token) Pos { return OffsetPos(PosOf(t.Pos), t.Value, len(t.Value)) }

// Pos returns the position of the file's first statement.
func (f *File) Pos() Pos {
	if len(f.Items) > 0 {
		return f.Items[0].Pos()
	}
	return Pos{Line: 1, Column: 1}
}

// Pos returns the position of the statement.
func (it *Item) Pos() Pos {
	switch {
	case it.Entry != nil:
		return PosOf(it.Entry.Key.Pos)
	case it.VarDef != nil:
		return PosOf(it.VarDef.Name.Pos)
	case it.Section != nil:
		return PosOf(it.Section.Open.Pos)
	case it.Include != nil:
		return PosOf(it.Include.Directive.Pos)
	}
	if it.Pairs != nil {
		return PosOf(it.Pairs.Pos)
	}
	return Pos{}
}

// End returns the position just after the statement.
func (it *Item) End() Pos {
	switch {
	case it.Entry != nil:
		return it.Entry.End()
	case it.VarDef != nil:
		return it.VarDef.Value.End()
	case it.Section != nil:
		return TokenEnd(it.Section.Close)
	case it.Include != nil:
		return TokenEnd(it.Include.Path)
	}
	if it.Pairs != nil {
		return TokenEnd(*it.Pairs)
	}
	return Pos{}
}

// Pos returns the position of the entry's key.
func (e *Entry) Pos() Pos { return PosOf(e.Key.Pos) }

// End returns the position just after the entry's value.
func (e *Entry) End() Pos {
	switch {
	case e.Block != nil:
		return e.Block.End()
	case e.Array != nil:
		return e.Array.End()
	case e.Value != nil:
		return e.Value.End()
	}
	return TokenEnd(e.Key)
}

// Pos returns the position of the block's opening bracket.
func (b *Block) Pos() Pos { return PosOf(b.Open.Pos) }

// End returns the position just after the block's closing bracket.
func (b *Block) End() Pos { return TokenEnd(b.Close) }

// Pos returns the position of the array's '['.
func (a *Array) Pos() Pos { return PosOf(a.Open.Pos) }

// End returns the position just after the array's ']'.
func (a *Array) End() Pos { return TokenEnd(a.Close) }

// Pos returns the position of the argument list's '('.
func (a *Args) Pos() Pos { return PosOf(a.Open.Pos) }

// End returns the position just after the argument list's ')'.
func (a *Args) End() Pos { return TokenEnd(a.Close) }

// Pos returns the position of the expression's first token.
func (x *Expr) Pos() Pos {
	if x.Simple.Type != 0 {
		return PosOf(x.Simple.Pos)
	}
	return x.Head.Pos()
}

// End returns the position just after the expression's last token.
func (x *Expr) End() Pos {
	switch {
	case x.Simple.Type != 0:
		return TokenEnd(x.Simple)
	case x.Else != nil:
		return x.Else.End()
	case len(x.Tail) > 0:
		return x.Tail[len(x.Tail)-1].Right.End()
	}
	return x.Head.End()
}

// Pos returns the position of the operator.
func (b *BinOp) Pos() Pos { return PosOf(b.Op.Pos) }

// End returns the position just after the right operand.
func (b *BinOp) End() Pos { return b.Right.End() }

// Pos returns the position of the operand's first token (its prefix, if any).
func (p *Primary) Pos() Pos {
	switch {
	case p.Prefix.Type != 0:
		return PosOf(p.Prefix.Pos)
	case p.Scalar.Type != 0:
		return PosOf(p.Scalar.Pos)
	case p.Call != nil:
		return PosOf(p.Call.Name.Pos)
	case p.Array != nil:
		return p.Array.Pos()
	case p.Object != nil:
		return p.Object.Pos()
	case p.Paren != nil:
		return PosOf(p.POpen.Pos)
	}
	return Pos{}
}

// End returns the position just after the operand.
func (p *Primary) End() Pos {
	switch {
	case p.Scalar.Type != 0:
		return TokenEnd(p.Scalar)
	case p.Call != nil:
		return p.Call.End()
	case p.Array != nil:
		return p.Array.End()
	case p.Object != nil:
		return p.Object.End()
	case p.Paren != nil:
		return TokenEnd(p.PClose)
	}
	return Pos{}
}

// Pos returns the position of the call's name.
func (c *Call) Pos() Pos { return PosOf(c.Name.Pos) }

// End returns the position just after the call and its chain.
func (c *Call) End() Pos {
	if n := len(c.Chain); n > 0 {
		return c.Chain[n-1].End()
	}
	if c.Args != nil {
		return c.Args.End()
	}
	return TokenEnd(c.Name)
}

// Pos returns the position of the link's name.
func (l *Link) Pos() Pos { return PosOf(l.Name.Pos) }

// End returns the position just after the link.
func (l *Link) End() Pos {
	if l.Args != nil {
		return l.Args.End()
	}
	return TokenEnd(l.Name)
}
