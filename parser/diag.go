package parser

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Pos is a position in a source file: file name, byte offset, 1-based line
// and 1-based column counted in bytes (as the Go tools count them).
type Pos = lexer.Position

// Diagnostic is one problem found in a source file.
type Diagnostic struct {
	Pos Pos
	Msg string
}

// Error formats the diagnostic as FILE:LINE:COL: message.
func (d Diagnostic) Error() string {
	if d.Pos.Line == 0 {
		if d.Pos.Filename == "" {
			return d.Msg
		}
		return d.Pos.Filename + ": " + d.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.Pos.Filename, d.Pos.Line, d.Pos.Column, d.Msg)
}

// Diagnostics is a list of problems. A nil or empty list means success; a
// non-empty list is an error whose text has one diagnostic per line.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ds as an error, or nil when it is empty.
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	return ds
}

// Sort orders the diagnostics by file, line and column, keeping the order
// of diagnostics at the same position, and drops exact duplicates.
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return slices.CompactFunc(ds, func(a, b Diagnostic) bool { return a == b })
}

// Errorf makes a diagnostic at pos.
func Errorf(pos Pos, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
