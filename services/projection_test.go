package services

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

func TestApply(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	apply := func(id, typ, data string) error {
		return st.Update(func(tx *store.Tx) error { return Apply(tx, store.Event{ID: id, Type: typ, Data: []byte(data)}) })
	}
	steps := []struct {
		id, typ, data string
		fails         bool
	}{
		{"e1", EventUserCreated, `{"id": 900, "username": "Ada", "email": "ada@example.com"}`, false},
		{"e2", EventUserCreated, `{"id": 900, "username": "changed", "email": "x@example.com"}`, false}, // known id: no change
		{"e3", EventOrderCreated, `{"id": 50, "user_id": 900, "status": "Pending", "updated_at": "2026-11-25T10:00:00Z"}`, false},
		{"e4", EventOrderStatusChanged, `{"id": 50, "from": "Confirmed", "to": "Shipped", "updated_at": "2026-11-25T10:02:00Z"}`, false},
		{"e5", EventOrderStatusChanged, `{"id": 50, "from": "Pending", "to": "Confirmed", "updated_at": "2026-11-25T10:01:00Z"}`, false}, // older: ignored
		{"e6", EventOrderCreated, `{"nope": true}`, true},
		{"e7", "something.else", `"whatever"`, false},
	}
	for _, s := range steps {
		if err := apply(s.id, s.typ, s.data); (err != nil) != s.fails {
			t.Fatalf("%s: err = %v", s.id, err)
		}
	}
	var u User
	if found, _ := st.Get("users", 900, &u); !found || u.Username != "Ada" {
		t.Errorf("user: %+v", u)
	}
	st.Update(func(tx *store.Tx) error {
		if id, ok, _ := tx.GetIndex("users_by_name", "ada"); !ok || id != 900 {
			t.Errorf("name index: %d %v", id, ok)
		}
		return nil
	})
	var o Order
	if found, _ := st.Get("orders", 50, &o); !found || o.Status != "Shipped" || !o.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("order: %+v", o)
	}
}

// TestApplySameVersion: two instances that changed one order at once
// emit the same version; whichever an instance sees first, it ends with
// the later change, as the other does.
func TestApplySameVersion(t *testing.T) {
	created := store.Event{ID: "c", Type: EventOrderCreated, AggregateType: "order", Subject: "5", AggregateVersion: 1,
		Data: []byte(`{"id": 5, "status": "Pending", "version": 1, "updated_at": "2026-11-25T10:00:00Z"}`)}
	a := store.Event{ID: "a", Type: EventOrderStatusChanged, AggregateType: "order", Subject: "5", AggregateVersion: 2,
		Data: []byte(`{"id": 5, "from": "Pending", "to": "Confirmed", "updated_at": "2026-11-25T10:01:00Z"}`)}
	b := store.Event{ID: "b", Type: EventOrderStatusChanged, AggregateType: "order", Subject: "5", AggregateVersion: 2,
		Data: []byte(`{"id": 5, "from": "Pending", "to": "Cancelled", "updated_at": "2026-11-25T10:01:05Z"}`)}
	for _, order := range [][]store.Event{{created, a, b}, {created, b, a}, {created, b, a, b}} {
		st, _ := store.Open(filepath.Join(t.TempDir(), "s.db"))
		for _, e := range order {
			if err := st.Update(func(tx *store.Tx) error { return Apply(tx, e) }); err != nil {
				t.Fatal(err)
			}
		}
		var o Order
		st.Get("orders", 5, &o)
		if o.Status != "Cancelled" || o.Version != 2 {
			t.Errorf("events %s%s%s: %s at version %d, want Cancelled (the later) at 2", order[0].ID, order[1].ID, order[2].ID, o.Status, o.Version)
		}
		st.Close()
	}
}
