package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type user struct {
	ID       uint64 `json:"id"`
	Username string `json:"username"`
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// createUser writes a user and its user.created event in one transaction.
func createUser(s *Store, name string, fail bool) (user, error) {
	var u user
	err := s.Update(func(tx *Tx) error {
		id, err := tx.NextID("users")
		if err != nil {
			return err
		}
		u = user{ID: id, Username: name}
		if err := tx.Put("users", id, u); err != nil {
			return err
		}
		data, _ := json.Marshal(u)
		if _, err := tx.Emit(Event{Type: "user.created", Source: "/services/users", Subject: fmt.Sprint(id), Data: data}); err != nil {
			return err
		}
		if fail {
			return errors.New("the handler failed after writing")
		}
		return nil
	})
	return u, err
}

func TestEntityAndEventTogether(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "data", "composer.db"))
	defer s.Close()
	u, err := createUser(s, "ada", false)
	if err != nil || u.ID != 1 {
		t.Fatalf("user %+v, %v", u, err)
	}
	if _, err := createUser(s, "bob", true); err == nil {
		t.Fatal("the failing transaction succeeded")
	}
	var got user
	if found, _ := s.Get("users", 2, &got); found {
		t.Error("the user of the failed transaction was kept")
	}
	pending, err := s.Pending(10)
	if err != nil || len(pending) != 1 || pending[0].Subject != "1" || pending[0].ID == "" || pending[0].Time.IsZero() {
		t.Fatalf("outbox %+v, %v: want the one event of ada", pending, err)
	}
}

func TestIDsAreNeverReusedAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "composer.db")
	s := open(t, path)
	for _, name := range []string{"ada", "bob"} {
		if _, err := createUser(s, name, false); err != nil {
			t.Fatal(err)
		}
	}
	createUser(s, "failed", true) // takes no id: the transaction is undone
	s.Close()

	s = open(t, path)
	defer s.Close()
	var got user
	if found, err := s.Get("users", 2, &got); !found || err != nil || got.Username != "bob" {
		t.Fatalf("after a restart: %+v, %v, %v", got, found, err)
	}
	u, _ := createUser(s, "cy", false)
	if u.ID != 3 {
		t.Errorf("id %d after a restart, want 3", u.ID)
	}
	var ids []uint64
	s.List("users", func(id uint64, _ []byte) error { ids = append(ids, id); return nil })
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Errorf("ids %v", ids)
	}
}

func TestOnEmit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "composer.db"))
	defer s.Close()
	calls := 0
	s.OnEmit(func() { calls++ })
	createUser(s, "ada", false)
	createUser(s, "bob", true) // rolled back: no wake-up
	s.Update(func(tx *Tx) error { return tx.Put("users", 9, user{ID: 9}) })
	if calls != 1 {
		t.Errorf("OnEmit called %d times, want once (one committed transaction with an event)", calls)
	}
}

func TestOutboxAck(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "composer.db"))
	defer s.Close()
	for i := range 5 {
		createUser(s, fmt.Sprint("u", i), false)
	}
	first, _ := s.Pending(3)
	if len(first) != 3 || first[0].Seq >= first[1].Seq {
		t.Fatalf("pending %+v", first)
	}
	if err := s.Ack(first[0].Seq, first[1].Seq, first[2].Seq); err != nil {
		t.Fatal(err)
	}
	rest, _ := s.Pending(10)
	if len(rest) != 2 || rest[0].Subject != "4" {
		t.Errorf("after ack: %+v", rest)
	}
}

func TestEventStore(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "composer.db"))
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := []Event{
		{ID: "a", Type: "user.created", Subject: "1", Time: t0},
		{ID: "b", Type: "order.created", Subject: "7", Time: t0.Add(time.Minute)},
		{ID: "c", Type: "user.created", Subject: "2", Time: t0.Add(2 * time.Minute)},
		{ID: "a", Type: "user.created", Subject: "1", Time: t0}, // delivered twice
	}
	for i, e := range events {
		added, err := s.Append(e)
		if err != nil || added != (i < 3) {
			t.Fatalf("append %d: added=%v err=%v", i, added, err)
		}
	}
	tests := []struct {
		q    Query
		want string
	}{
		{Query{}, "a b c"},
		{Query{Type: "user.created"}, "a c"},
		{Query{Subject: "7"}, "b"},
		{Query{Type: "user.created", Subject: "2"}, "c"},
		{Query{Since: t0.Add(time.Minute)}, "b c"},
		{Query{Limit: 2}, "a b"},
		{Query{Type: "user.deleted"}, ""},
	}
	for _, tt := range tests {
		got, err := s.Events(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		ids := ""
		for i, e := range got {
			if i > 0 {
				ids += " "
			}
			ids += e.ID
		}
		if ids != tt.want {
			t.Errorf("Events(%+v) = %q, want %q", tt.q, ids, tt.want)
		}
	}
	if _, err := s.Append(Event{Type: "x"}); err == nil {
		t.Error("an event without an id was appended")
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "composer.db"))
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if _, err := createUser(s, fmt.Sprint(g, "-", i), false); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	s.List("users", func(id uint64, _ []byte) error { seen[id] = true; return nil })
	pending, _ := s.Pending(1000)
	if len(seen) != 100 || len(pending) != 100 {
		t.Errorf("%d users and %d events, want 100 of each", len(seen), len(pending))
	}
}

func TestInstanceIDIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.InstanceID()
	if err != nil || len(a) != 12 {
		t.Fatalf("InstanceID = %q, %v", a, err)
	}
	b, _ := s.InstanceID()
	s.Close()
	s, _ = Open(path)
	defer s.Close()
	c, _ := s.InstanceID()
	other, _ := Open(filepath.Join(t.TempDir(), "other.db"))
	defer other.Close()
	d, _ := other.InstanceID()
	if a != b || a != c || a == d {
		t.Fatalf("ids %q %q %q (another store: %q)", a, b, c, d)
	}
}

func TestNodeIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	next := func() (uint64, error) {
		var id uint64
		err := s.Update(func(tx *Tx) error {
			var err error
			id, err = tx.NextID("users")
			return err
		})
		return id, err
	}
	if id, _ := next(); id != 1 {
		t.Fatalf("first id without a node: %d", id)
	}
	s.RequireNode()
	if _, err := next(); !errors.Is(err, ErrNoNode) {
		t.Fatalf("an id without the node it needs: %v", err)
	}
	if err := s.SetNode(0); err == nil {
		t.Fatal("node 0 accepted")
	}
	if err := s.SetNode(3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNode(4); err == nil {
		t.Fatal("a second node accepted")
	}
	id, err := next()
	if err != nil || id != 3<<NodeBits|2 || id >= 1<<53 {
		t.Fatalf("id on node 3: %d, %v", id, err)
	}
	s.Close()
	s, _ = Open(path)
	defer s.Close()
	if n, ok, _ := s.Node(); !ok || n != 3 {
		t.Fatalf("node after a restart: %d %v", n, ok)
	}
}

// TestMoveOwned: a service's entities (with their id sequence), indexes,
// aggregate versions and outbox events move to its own store, once;
// another service's stay.
func TestMoveOwned(t *testing.T) {
	dir := t.TempDir()
	from, _ := Open(filepath.Join(dir, "composer.db"))
	defer from.Close()
	err := from.Update(func(tx *Tx) error {
		for i := 0; i < 3; i++ {
			id, _ := tx.NextID("users")
			tx.Put("users", id, map[string]uint64{"id": id})
			tx.PutIndex("users_by_name", fmt.Sprint("u", id), id)
			if _, err := tx.Emit(Event{Type: "user.created", Source: "/services/users", Subject: fmt.Sprint(id), AggregateType: "user", AggregateVersion: 1}); err != nil {
				return err
			}
		}
		id, _ := tx.NextID("orders")
		tx.Put("orders", id, map[string]uint64{"id": id})
		_, err := tx.Emit(Event{Type: "order.created", Source: "/services/orders", Subject: "1", AggregateType: "order", AggregateVersion: 1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	to, _ := Open(filepath.Join(dir, "users.db"))
	defer to.Close()
	users := Owned{Kinds: []string{"users"}, Indexes: []string{"users_by_name"}, Aggregates: []string{"user"}, Source: "/services/users"}
	n, err := MoveOwned(from, to, users)
	if err != nil || n != 3+3+3 {
		t.Fatalf("moved %d, %v; want 9 (3 users, 3 index entries, 3 events)", n, err)
	}
	if n, err := MoveOwned(from, to, users); err != nil || n != 0 {
		t.Fatalf("moved again: %d, %v", n, err)
	}
	var u map[string]uint64
	if found, _ := to.Get("users", 2, &u); !found || u["id"] != 2 {
		t.Errorf("user 2 in its store: %v %v", found, u)
	}
	if found, _ := from.Get("users", 2, &u); found {
		t.Error("user 2 left in the shared store")
	}
	if found, _ := from.Get("orders", 1, &u); !found {
		t.Error("orders' order moved with users")
	}
	pending, _ := to.Pending(10)
	if len(pending) != 3 || pending[0].Subject != "1" || pending[2].Subject != "3" {
		t.Errorf("users' outbox: %+v", pending)
	}
	if left, _ := from.Pending(10); len(left) != 1 || left[0].Type != "order.created" {
		t.Errorf("shared outbox after the move: %+v", left)
	}
	to.Update(func(tx *Tx) error {
		if id, _ := tx.NextID("users"); id != 4 {
			t.Errorf("next user id %d, want 4 (the sequence moved)", id)
		}
		if _, ok, _ := tx.GetIndex("users_by_name", "u3"); !ok {
			t.Error("index not moved")
		}
		if _, err := tx.Emit(Event{Type: "user.created", Subject: "3", AggregateType: "user", AggregateVersion: 1}); !errors.Is(err, ErrVersionConflict) {
			t.Errorf("user 3's version 1 again: %v (versions not moved)", err)
		}
		return errors.New("roll back")
	})
}

// TestClearKeepsSequence: a cleared kind gives no id twice.
func TestClearKeepsSequence(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	s.Update(func(tx *Tx) error {
		for i := 0; i < 5; i++ {
			id, _ := tx.NextID("orders")
			tx.Put("orders", id, id)
		}
		return nil
	})
	s.Update(func(tx *Tx) error { return tx.Clear("orders") })
	n := 0
	s.List("orders", func(uint64, []byte) error { n++; return nil })
	s.Update(func(tx *Tx) error {
		if id, _ := tx.NextID("orders"); id != 6 || n != 0 {
			t.Errorf("after Clear: %d left, next id %d", n, id)
		}
		return nil
	})
}

func TestOnAppend(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	calls := 0
	s.OnAppend(func() { calls++ })
	s.Append(Event{ID: "a"})
	s.Append(Event{ID: "a"}) // known: nothing added
	s.AppendBatch([]Event{{ID: "b"}, {ID: "c"}})
	if calls != 2 {
		t.Errorf("OnAppend called %d times, want 2", calls)
	}
}

// TestAggregateVersions: an aggregate's events come 1, 2, 3, ... with no
// gap; a reused or skipped version fails the transaction, whoever emits
// it; events appended from another instance move the version on.
func TestAggregateVersions(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	emit := func(typ, id string, v uint64) error {
		return s.Update(func(tx *Tx) error {
			_, err := tx.Emit(Event{Type: typ + ".changed", Subject: id, AggregateType: typ, AggregateVersion: v})
			return err
		})
	}
	for _, tc := range []struct {
		typ, id string
		v       uint64
		ok      bool
	}{
		{"order", "1", 1, true}, {"order", "1", 1, false}, {"order", "1", 3, false}, {"order", "1", 2, true},
		{"user", "1", 1, true}, // another type, the same id: its own history
		{"order", "2", 2, false}, {"order", "2", 1, true},
	} {
		err := emit(tc.typ, tc.id, tc.v)
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, ErrVersionConflict) {
			t.Errorf("%s/%s version %d: %v", tc.typ, tc.id, tc.v, err)
		}
	}
	if n, _ := s.OutboxLen(); n != 4 {
		t.Errorf("%d events in the outbox, want 4: a refused one leaves nothing", n)
	}
	// Another instance's events of order 1, appended to the event store.
	if _, err := s.Append(Event{ID: "remote-3", Type: "order.changed", Subject: "1", AggregateType: "order", AggregateVersion: 3}); err != nil {
		t.Fatal(err)
	}
	if err := emit("order", "1", 3); err == nil {
		t.Error("version 3 emitted again after another instance's version 3")
	}
	if err := emit("order", "1", 4); err != nil {
		t.Errorf("version 4 after another instance's 3: %v", err)
	}
}
