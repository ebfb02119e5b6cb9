package services

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// TestUpcastOrderCreated: one store holding order.created events of both
// schemas, v1 (written before orders had a currency) and v2: both read as
// v2, the old one in EUR, and the projection of each has its currency.
func TestUpcastOrderCreated(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v1, _ := json.Marshal(map[string]any{"id": 1, "user_id": 1, "items": []any{}, "total_amount": 5, "status": "Pending",
		"created_at": time.Now().UTC(), "updated_at": time.Now().UTC()})
	v2, _ := json.Marshal(Order{ID: 2, UserID: 1, TotalAmount: 7, Currency: "USD", Status: "Pending", Version: 1})
	for _, e := range []store.Event{
		{ID: "old", Type: EventOrderCreated, Subject: "1", Data: v1},                                 // before dataschema
		{ID: "new", Type: EventOrderCreated, Subject: "2", Data: v2, DataSchema: SchemaOrderCreated}, // today's
	} {
		if _, err := st.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.Events(store.Query{Type: EventOrderCreated})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%v %v", evs, err)
	}
	want := map[string]string{"old": "EUR", "new": "USD"}
	for _, e := range evs {
		up, err := Upcast(e)
		if err != nil {
			t.Fatal(err)
		}
		var o Order
		json.Unmarshal(up.Data, &o)
		if up.DataSchema != SchemaOrderCreated || o.Currency != want[e.ID] {
			t.Errorf("%s upcast: %s %s", e.ID, up.DataSchema, up.Data)
		}
		if err := st.Update(func(tx *store.Tx) error { return Apply(tx, e) }); err != nil {
			t.Fatal(err)
		}
		var projected Order
		if _, err := st.Get("orders", o.ID, &projected); err != nil || projected.Currency != want[e.ID] {
			t.Errorf("order %d projected with currency %q", o.ID, projected.Currency)
		}
	}
	if _, err := Upcast(store.Event{ID: "x", Type: EventOrderCreated, DataSchema: "/schemas/order.created/v9", Data: v2}); err == nil {
		t.Error("an unknown schema upcast")
	}
}
