// Package eventfilter compiles and runs the `filter:` of an event route: a
// CEL expression (https://cel.dev) over the event, such as
//
//	data.total_amount > 100 && type == "order.created"
//
// CEL is the expression language that Kubernetes, Envoy and Dapr use for
// the same job: typed, checked before it runs, side-effect free and
// guaranteed to terminate, with a Go implementation that is well kept.
// The TuskLang evaluator was the other candidate; it knows nothing of
// JSON event data, and its operators are TuskLang's, not ones that
// people who write filters for those tools already know.
//
// The expression sees the event's attributes as variables: id, type,
// source, subject, correlationid, causationid (strings), time (a
// timestamp) and data (the event's JSON data: maps, lists, numbers as
// doubles, strings, bools, null). It must give a bool.
package eventfilter

import (
	"encoding/json"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/tuskcompose/composer/internal/store"
)

// Filter is a compiled filter. It is safe for concurrent use.
type Filter struct {
	expr string
	prg  cel.Program
}

// Error is a problem of an expression, at a 1-based line and column of
// the expression's text.
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

// Errors are all the problems of an expression.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

var env = func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("id", cel.StringType),
		cel.Variable("type", cel.StringType),
		cel.Variable("source", cel.StringType),
		cel.Variable("subject", cel.StringType),
		cel.Variable("correlationid", cel.StringType),
		cel.Variable("causationid", cel.StringType),
		cel.Variable("time", cel.TimestampType),
		cel.Variable("data", cel.DynType),
	)
	if err != nil {
		panic(err) // a constant environment
	}
	return e
}()

// Compile parses and checks an expression. The error is an Errors, with
// the position of each problem in the expression.
func Compile(expr string) (*Filter, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		var out Errors
		for _, e := range iss.Errors() {
			loc := e.Location
			line, col := 1, 1
			if loc != nil && loc.Line() > 0 {
				line, col = loc.Line(), max(loc.Column()+1, 1)
			}
			out = append(out, &Error{Line: line, Column: col, Msg: e.Message})
		}
		return nil, out
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, Errors{{Line: 1, Column: 1, Msg: fmt.Sprintf("a filter must give a bool, this one gives %s", t)}}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, Errors{{Line: 1, Column: 1, Msg: err.Error()}}
	}
	return &Filter{expr: expr, prg: prg}, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.expr }

// Match runs the filter on an event. An error (data that is not JSON, a
// field the event does not have, a result that is not a bool) means the
// filter cannot say: the event is neither delivered nor dropped silently,
// the caller dead-letters it with the error as the reason.
func (f *Filter) Match(e store.Event) (bool, error) {
	var data any
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return false, fmt.Errorf("filter %q: the event's data is not JSON: %v", f.expr, err)
		}
	}
	out, _, err := f.prg.Eval(map[string]any{
		"id": e.ID, "type": e.Type, "source": e.Source, "subject": e.Subject,
		"correlationid": e.CorrelationID, "causationid": e.CausationID,
		"time": e.Time, "data": data,
	})
	if err != nil {
		return false, fmt.Errorf("filter %q: %v", f.expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("filter %q gave %v, not a bool", f.expr, out.Value())
	}
	return b, nil
}
