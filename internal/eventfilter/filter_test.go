package eventfilter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

func TestMatch(t *testing.T) {
	order := store.Event{ID: "e1", Type: "order.created", Source: "/services/orders", Subject: "7",
		Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), CorrelationID: "req-1",
		Data: []byte(`{"id": 7, "user_id": 3, "total_amount": 150.5, "status": "Pending", "items": [{"product_id": "sku-1", "quantity": 2}]}`)}
	cases := []struct {
		expr string
		want bool
	}{
		{`data.total_amount > 100`, true},
		{`data.total_amount > 100 && type == "order.created"`, true},
		{`data.total_amount > 200`, false},
		{`type == "user.created"`, false},
		{`subject == "7" && source.startsWith("/services/")`, true},
		{`data.items.exists(i, i.product_id == "sku-1" && i.quantity >= 2)`, true},
		{`size(data.items) == 2`, false},
		{`has(data.coupon) ? data.coupon == "X" : true`, true},
		{`data.status in ["Pending", "Confirmed"]`, true},
		{`time > timestamp("2026-01-01T00:00:00Z")`, true},
		{`correlationid == "req-1" && causationid == ""`, true},
		{`data.user_id == 3`, true}, // JSON numbers are doubles; CEL compares them with ints
	}
	for _, c := range cases {
		f, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		got, err := f.Match(order)
		if err != nil || got != c.want {
			t.Errorf("%q: %v, %v; want %v", c.expr, got, err, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		expr      string
		line, col int
		msg       string
	}{
		{`data.total_amount >`, 1, 20, "mismatched input"},
		{`typo == "order.created"`, 1, 1, "undeclared reference to 'typo'"},
		{`type == 1`, 1, 6, "no matching overload"},
		{`subject`, 1, 1, "must give a bool"},
		{"type == \"a\" &&\n  nope", 2, 3, "undeclared reference to 'nope'"},
	}
	for _, c := range cases {
		_, err := Compile(c.expr)
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Errorf("Compile(%q) = %v, want errors", c.expr, err)
			continue
		}
		e := errs[0]
		if e.Line != c.line || e.Column != c.col || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("Compile(%q): %d:%d %s; want %d:%d ...%s...", c.expr, e.Line, e.Column, e.Msg, c.line, c.col, c.msg)
		}
	}
}

func TestMatchErrors(t *testing.T) {
	f, err := Compile(`data.total_amount > 100`)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{`{"id": 1}`, `not json`, ``} {
		if _, err := f.Match(store.Event{Type: "order.created", Data: []byte(data)}); err == nil {
			t.Errorf("data %q: no error", data)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`data.total_amount > 100 && type == "order.created"`, `data.items.exists(i, i.q > 1)`, `"a" + 1`, `(`} {
		f.Add(s)
	}
	ev := store.Event{Type: "t", Data: []byte(`{"a": 1, "b": [1, 2], "c": {"d": "x"}}`)}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Compile(expr)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Compile(%q): error %v is not Errors", expr, err)
			}
			for _, e := range errs {
				if e.Line < 1 || e.Column < 1 {
					t.Fatalf("Compile(%q): position %d:%d", expr, e.Line, e.Column)
				}
			}
			return
		}
		flt.Match(ev) // must not panic
	})
}
