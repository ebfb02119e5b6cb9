package services

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// Apply projects an event of the built-in services into the entities of
// a store, in the store's transaction: how an instance learns the users
// and orders that other instances of the platform created (CQRS: each
// instance's users and orders are a read model of the events). It is
// idempotent, and an event older than what the store has changes nothing.
//
//   - user.created: the user and its name and email in the uniqueness
//     indexes, unless the id is known (its password's hash is not in the
//     event: only the instance that created the user has it);
//   - order.created: the order, unless the id is known;
//   - order.status_changed: the new status and version, when the change
//     is newer than the order's: by aggregate version, and by time at the
//     same version (two instances that changed it at once) or without one.
//
// Other event types are left alone. Data that does not decode is an
// error: the event is not stored, and is read again.
func Apply(tx *store.Tx, e store.Event) error {
	e, err := Upcast(e)
	if err != nil {
		return err
	}
	switch e.Type {
	case EventUserCreated:
		var u User
		if err := json.Unmarshal(e.Data, &u); err != nil || u.ID == 0 {
			return fmt.Errorf("%s event %s: not a user: %s", e.Type, e.ID, e.Data)
		}
		var known User
		if found, err := tx.Get("users", u.ID, &known); err != nil || found {
			return err
		}
		if err := tx.Put("users", u.ID, u); err != nil {
			return err
		}
		// A name or an email taken on two instances at once keeps its
		// first owner in the index here.
		for index, key := range map[string]string{"users_by_name": u.Username, "users_by_email": u.Email} {
			if _, taken, err := tx.GetIndex(index, strings.ToLower(key)); err != nil || taken {
				if err != nil {
					return err
				}
				continue
			}
			if err := tx.PutIndex(index, strings.ToLower(key), u.ID); err != nil {
				return err
			}
		}
	case EventOrderCreated:
		var o Order
		if err := json.Unmarshal(e.Data, &o); err != nil || o.ID == 0 {
			return fmt.Errorf("%s event %s: not an order: %s", e.Type, e.ID, e.Data)
		}
		var known Order
		if found, err := tx.Get("orders", o.ID, &known); err != nil || found {
			return err
		}
		return tx.Put("orders", o.ID, o)
	case EventOrderStatusChanged:
		var c statusChange
		if err := json.Unmarshal(e.Data, &c); err != nil || c.ID == 0 || c.To == "" {
			return fmt.Errorf("%s event %s: not a status change: %s", e.Type, e.ID, e.Data)
		}
		var o Order
		found, err := tx.Get("orders", c.ID, &o)
		if err != nil || !found {
			return err
		}
		// Newer than what the order has: by version; at the same version
		// (two instances changed it at once) or without one, by time, so
		// that every instance ends with the same.
		newer := e.AggregateVersion > o.Version || (e.AggregateVersion == o.Version || e.AggregateVersion == 0) && c.UpdatedAt.After(o.UpdatedAt)
		if !newer {
			return nil
		}
		o.Status, o.UpdatedAt = c.To, c.UpdatedAt
		if e.AggregateVersion > o.Version {
			o.Version = e.AggregateVersion
		}
		return tx.Put("orders", c.ID, o)
	}
	return nil
}

// statusChange is the data of order.status_changed.
type statusChange struct {
	ID        uint64    `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	UpdatedAt time.Time `json:"updated_at"`
}
