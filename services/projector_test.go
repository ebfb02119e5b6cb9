package services

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tuskcompose/composer/internal/store"
)

type anyUser struct{}

func (anyUser) UserExists(context.Context, uint64) (bool, error) { return true, nil }

// relay moves the outboxes' events to the event store, as the embedded
// bus does.
func relay(t *testing.T, events *store.Store, from ...*store.Store) {
	t.Helper()
	for _, s := range from {
		pending, err := s.Pending(1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pending {
			if _, err := events.Append(e); err != nil {
				t.Fatal(err)
			}
			s.Ack(e.Seq)
		}
	}
}

// snapshot is everything a service derives from its events: entities by
// kind, index entries, aggregate versions.
func snapshot(t *testing.T, s *store.Store, d *Descriptor) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, kind := range d.Owns.Kinds {
		if slices.Contains(d.Keeps, kind) {
			continue
		}
		s.List(kind, func(id uint64, data []byte) error {
			var v any
			json.Unmarshal(data, &v)
			out[fmt.Sprintf("%s/%d", kind, id)] = v
			return nil
		})
	}
	s.Update(func(tx *store.Tx) error {
		for _, name := range d.Owns.Indexes {
			for _, key := range []string{"ada", "grace", "ada@example.com", "grace@example.com"} {
				if id, ok, _ := tx.GetIndex(name, key); ok {
					out[name+"/"+key] = id
				}
			}
		}
		for _, typ := range d.Owns.Aggregates {
			for id := 1; id <= 5; id++ {
				if v, _ := tx.AggregateVersion(typ, fmt.Sprint(id)); v > 0 {
					out[fmt.Sprintf("version/%s/%d", typ, id)] = v
				}
			}
		}
		return nil
	})
	return out
}

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRebuildEqualsLive: the entities a rebuild makes from the event
// store equal, field by field, those the commands made; another
// instance's store, fed by ProjectOnce alone, ends with the same.
func TestRebuildEqualsLive(t *testing.T) {
	dir := t.TempDir()
	events, usersDB, ordersDB := open(t, filepath.Join(dir, "composer.db")), open(t, filepath.Join(dir, "users.db")), open(t, filepath.Join(dir, "orders.db"))
	users, orders := NewUsers(usersDB), NewOrders(ordersDB, anyUser{})
	users.cost = bcrypt.MinCost
	ctx := context.Background()
	for _, name := range []string{"ada", "grace"} {
		if _, err := users.Create(ctx, "", NewUser{Username: name, Email: name + "@example.com", Password: "secret123"}); err != nil {
			t.Fatal(err)
		}
	}
	for i, cur := range []string{"", "USD", "JPY"} {
		if _, err := orders.Create(ctx, "", NewOrder{UserID: uint64(i%2 + 1), Currency: cur, Items: []Item{{ProductID: "p", Quantity: i + 1, Price: 2.5}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		id     uint64
		status string
	}{{1, "Confirmed"}, {1, "Shipped"}, {2, "Cancelled"}, {1, "Delivered"}} {
		if _, err := orders.SetStatus(ctx, "", step.id, step.status, 0); err != nil {
			t.Fatal(err)
		}
	}
	relay(t, events, usersDB, ordersDB)
	// Noise in the event store: another service's event of a type users
	// projects (not applied), and a user.created of users' that does not
	// decode (passed over).
	events.Append(store.Event{ID: "x1", Type: EventUserCreated, Source: "/services/somebody", Subject: "9", Data: []byte(`{"id":9,"username":"mallory"}`)})
	events.Append(store.Event{ID: "x2", Type: EventUserCreated, Source: "/services/users", Subject: "10", Data: []byte(`"nope"`)})

	for _, d := range []*Descriptor{Lookup("users"), Lookup("orders")} {
		live := usersDB
		if d.Name == "orders" {
			live = ordersDB
		}
		// The live instance catches up with its own events: nothing changes.
		before := snapshot(t, live, d)
		if _, _, _, err := ProjectOnce(events, live, d, 100); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, live, d); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s: projecting its own events changed it:\nbefore %v\nafter  %v", d.Name, before, after)
		}
		var seen []uint64
		skipped, err := Rebuild(events, live, d, func(at, last uint64) { seen = append(seen, at, last) })
		if err != nil {
			t.Fatal(err)
		}
		if rebuilt := snapshot(t, live, d); !reflect.DeepEqual(before, rebuilt) {
			t.Errorf("%s rebuilt differs:\nlive    %v\nrebuilt %v", d.Name, before, rebuilt)
		}
		if d.Name == "users" && (len(skipped) != 1 || skipped[0].Event.ID != "x2") {
			t.Errorf("users skipped %v, want x2", skipped)
		}
		if len(seen) < 4 || seen[len(seen)-2] != seen[len(seen)-1] {
			t.Errorf("%s progress %v: does not end at the last event", d.Name, seen)
		}
		// Another instance, from the events alone.
		other := open(t, filepath.Join(dir, "other-"+d.Name+".db"))
		for {
			from, to, _, err := ProjectOnce(events, other, d, 2)
			if err != nil {
				t.Fatal(err)
			}
			if from == to {
				break
			}
		}
		if got := snapshot(t, other, d); !reflect.DeepEqual(before, got) {
			t.Errorf("%s on another instance differs:\nlive  %v\nother %v", d.Name, before, got)
		}
	}
	// A rebuild keeps what is not derived from events.
	var c credentials
	if found, _ := usersDB.Get("credentials", 1, &c); !found || bcrypt.CompareHashAndPassword(c.PasswordHash, []byte("secret123")) != nil {
		t.Error("ada's password hash lost in the rebuild")
	}
	if _, err := Rebuild(events, open(t, filepath.Join(dir, "n.db")), Lookup("notifications"), nil); err == nil {
		t.Error("notifications rebuilt: it is not a projection")
	}
	// Ids go on after a rebuild.
	if u, err := users.Create(ctx, "", NewUser{Username: "hopper", Email: "hopper@example.com", Password: "secret123"}); err != nil || u.ID != 3 {
		t.Errorf("a user after the rebuild: %+v %v", u, err)
	}
}
