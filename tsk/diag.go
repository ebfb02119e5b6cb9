package tsk

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tuskcompose/composer/parser"
)

// Severity says whether a diagnostic makes its input invalid.
type Severity uint8

// The severities. The zero value is an error.
const (
	Error   Severity = iota // the input is invalid
	Warning                 // the input is valid, but probably not what was meant
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText writes "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one problem of a document: its severity, its range (Pos
// to End; End is zero when only the start is known) and its message.
// Syntax errors (parser.Error), evaluation, decoding and the platform's
// validation all report Diagnostics.
type Diagnostic struct {
	Pos      Pos
	End      Pos
	Severity Severity
	Msg      string
}

// Errorf makes an error at pos.
func Errorf(pos Pos, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Error formats the diagnostic as FILE:LINE:COL: message, or
// FILE:LINE:COL: warning: message for a warning.
func (d Diagnostic) Error() string {
	msg := d.Msg
	if d.Severity == Warning {
		msg = "warning: " + msg
	}
	return parser.Error{Pos: d.Pos, Msg: msg}.Error()
}

// DiagnosticJSON is a diagnostic as the command-line tools print it with
// --format json.
type DiagnosticJSON struct {
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Column    int      `json:"column"`
	EndLine   int      `json:"end_line"`
	EndColumn int      `json:"end_column"`
	Severity  Severity `json:"severity"`
	Message   string   `json:"message"`
}

// JSON returns the diagnostic in its JSON form; an unknown end is the
// start.
func (d Diagnostic) JSON() DiagnosticJSON {
	end := d.End
	if end.Line == 0 {
		end = d.Pos
	}
	return DiagnosticJSON{File: d.Pos.Filename, Line: d.Pos.Line, Column: d.Pos.Column, EndLine: end.Line,
		EndColumn: end.Column, Severity: d.Severity, Message: d.Msg}
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

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// JSON returns the diagnostics in their JSON form (an empty list for none).
func (ds Diagnostics) JSON() []DiagnosticJSON {
	out := make([]DiagnosticJSON, len(ds))
	for i, d := range ds {
		out[i] = d.JSON()
	}
	return out
}

// syntax turns the parser's syntax errors into diagnostics.
func syntax(es parser.Errors) Diagnostics {
	out := make(Diagnostics, len(es))
	for i, e := range es {
		out[i] = Diagnostic{Pos: lineCol(e.Pos), Msg: e.Msg}
	}
	return out
}

// AsDiagnostics returns the diagnostics of an error of this package, of
// package parser, or any other error (at no position in file).
func AsDiagnostics(err error, file string) Diagnostics {
	var ds Diagnostics
	var es parser.Errors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ds):
		return ds
	case errors.As(err, &es):
		return syntax(es)
	}
	return Diagnostics{{Pos: Pos{Filename: file}, Msg: err.Error()}}
}
