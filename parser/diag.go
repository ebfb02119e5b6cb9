package parser

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Pos is a position in a source file: file name, byte offset, 1-based line
// and 1-based column counted in bytes (as the Go tools count them). It is
// the parser's own type: participle's positions are converted (PosOf) at
// the parser's edge, and package tsk uses this type for its values and
// diagnostics.
type Pos struct {
	Filename string
	Offset   int
	Line     int
	Column   int
}

// PosOf converts a position of participle's lexer (the tokens of the
// syntax tree carry them) into a Pos.
func PosOf(p lexer.Position) Pos { return Pos(p) }

// TokenPos is where a token of the syntax tree starts.
func TokenPos(t lexer.Token) Pos { return Pos(t.Pos) }

// Error is one syntax problem of a source file. Package tsk reports it as
// a tsk.Diagnostic.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the problem as FILE:LINE:COL: message.
func (e Error) Error() string {
	if e.Pos.Line == 0 {
		if e.Pos.Filename == "" {
			return e.Msg
		}
		return e.Pos.Filename + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Pos.Filename, e.Pos.Line, e.Pos.Column, e.Msg)
}

// Errors is a list of syntax problems. A nil or empty list means success;
// a non-empty list is an error whose text has one problem per line.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders the problems by file, line and column, keeping the order of
// problems at the same position, and drops exact duplicates.
func (es Errors) Sort() Errors {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return slices.CompactFunc(es, func(a, b Error) bool { return a == b })
}
