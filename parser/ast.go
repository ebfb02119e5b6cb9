package parser

import "github.com/alecthomas/participle/v2/lexer"

// The syntax tree. Its leaves are the lexer's tokens, which carry their
// positions; every node's Pos and End methods (positions.go) derive from
// its first and last token. The struct tags are the grammar (participle
// v2); every alternative is chosen by the type of one token, which keeps
// the parser fast.

// File is one parsed .tsk file.
type File struct {
	Items []*Item `parser:"( @@ ( Sep @@ )* )?"`

	// Comments holds every comment of the file in source order. The
	// grammar does not see comments; the formatter puts them back.
	Comments []Comment
}

// Item is one statement: an entry (key: value, or a block), a $variable
// definition, a section header or an #include. After parsing, exactly one of
// Entry, VarDef, Section and Include is set.
type Item struct {
	// Pairs is a run of simple entries folded into one token (see fold);
	// the parser unfolds it into Entry items before returning the tree.
	Pairs   *lexer.Token `parser:"  @Pairs"`
	Entry   *Entry       `parser:"| @@"`
	VarDef  *VarDef      `parser:"| @@"`
	Section *Section     `parser:"| @@"`
	Include *Include     `parser:"| @@"`
}

// Section is a [name] or [a.b] header. The entries after it, up to the next
// header, belong to it.
type Section struct {
	Open  lexer.Token `parser:"@HeaderOpen"`
	Path  []*PathKey  `parser:"@@ ( '.' @@ )*"`
	Close lexer.Token `parser:"@']'"`
}

// PathKey is one name of a section header's path.
type PathKey struct {
	Key lexer.Token `parser:"@Key"`
}

// Include is an `#include "file.tsk"` directive; Path is a Scalar token.
type Include struct {
	Directive lexer.Token `parser:"@Include"`
	Path      lexer.Token `parser:"@Scalar"`
}

// VarDef defines a global variable: `$name: value`.
type VarDef struct {
	Name  lexer.Token `parser:"@VarName Assign"`
	Value *Expr       `parser:"@@"`
}

// Entry is `key: value`, `key = value`, `key { ... }`, `key > ... <` or
// `key [ ... ]`. Key is a Key token: a name, a number or a quoted string.
// Exactly one of Value, Block and Array is set.
type Entry struct {
	Key   lexer.Token `parser:"@Key"`
	Value *Expr       `parser:"( Assign @@"`
	Block *Block      `parser:"| @@"`
	Array *Array      `parser:"| @@ )"`
}

// Block is `{ entries }` or `> entries <`; Open.Value tells which.
type Block struct {
	Open  lexer.Token `parser:"@Open"`
	Items []*Item     `parser:"( @@ ( Sep @@ )* )?"`
	Close lexer.Token `parser:"@Close"`
}

// Angle reports whether the block was written `name > ... <`.
func (b *Block) Angle() bool { return b.Open.Value == ">" }

// Array is `[ items ]`.
type Array struct {
	Open  lexer.Token `parser:"@'['"`
	Items []*Expr     `parser:"( @@ ( Sep @@ )* )?"`
	Close lexer.Token `parser:"@']'"`
}

// Expr is either a Simple value (one Value token: a scalar that makes up
// the whole value, by far the most common case) or a chain of binary
// operators as written (Head Tail[0].Op Tail[0].Right ...), with an
// optional `? Then : Else`. The chain is kept flat; the evaluator applies
// the precedence of the operators.
type Expr struct {
	Simple lexer.Token `parser:"( @Value"`
	Head   *Primary    `parser:"| @@"`
	Tail   []*BinOp    `parser:"  @@*"`
	Then   *Expr       `parser:"( '?' @@"`
	Else   *Expr       `parser:"  ':' @@ )? )"`
}

// BinOp is one `operator operand` link of an Expr chain.
type BinOp struct {
	Op    lexer.Token `parser:"@BinOp"`
	Right *Primary    `parser:"@@"`
}

// Primary is an operand with its unary prefixes (`!`, `-`; the lexer makes
// one Prefix token of a run of them, `!!x` has Prefix "!!"): a scalar
// token, an operator call, an array, an object or a parenthesised
// expression. Exactly one of Scalar (Type != 0), Call, Array, Object and
// Paren is set.
type Primary struct {
	Prefix lexer.Token `parser:"( @Prefix )?"`
	Scalar lexer.Token `parser:"( @Scalar"`
	Call   *Call       `parser:"| @@"`
	Array  *Array      `parser:"| @@"`
	Object *Block      `parser:"| @@"`
	POpen  lexer.Token `parser:"| @'('"`
	Paren  *Expr       `parser:"  @@"`
	PClose lexer.Token `parser:"  @')' )"`
}

// Call is an operator call, `@name(args)`, `@name`, `name(args)`, with
// optional chained calls: `@Query("users").where("a", 1).count()`.
type Call struct {
	Name  lexer.Token `parser:"@Call"`
	Args  *Args       `parser:"@@?"`
	Chain []*Link     `parser:"( '.' @@ )*"`
}

// Link is one `.name(args)` of a call chain.
type Link struct {
	Name lexer.Token `parser:"@( Call | Scalar )"`
	Args *Args       `parser:"@@?"`
}

// Args is a parenthesised argument list.
type Args struct {
	Open  lexer.Token `parser:"@'('"`
	Items []*Expr     `parser:"( @@ ( Sep @@ )* )?"`
	Close lexer.Token `parser:"@')'"`
}
