package services

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/store"
)

// Notification is a message the notifications service sent.
type Notification struct {
	ID      uint64    `json:"id"`
	EventID string    `json:"event_id"`
	Kind    string    `json:"kind"` // welcome | order_confirmation
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Body    string    `json:"body"`
	SentAt  time.Time `json:"sent_at"`
}

// Sender sends a notification (by mail, for instance). The default,
// RecordingSender, only records it.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// RecordingSender sends nothing; the notifications service keeps every
// notification it sends anyway.
type RecordingSender struct{}

// Send implements Sender.
func (RecordingSender) Send(context.Context, Notification) error { return nil }

// Notifications is the notifications service: it reacts to user.created
// (a welcome message) and order.created (a confirmation), and lists what
// it sent at GET /notifications.
type Notifications struct {
	store  *store.Store
	sender Sender
	users  UserDirectory
	now    func() time.Time
}

// UserDirectory tells a user's email address (the order confirmation's
// recipient).
type UserDirectory interface {
	UserEmail(ctx context.Context, id uint64) (string, error)
}

// NewNotifications returns the service; a nil sender records only; a nil
// directory addresses an order confirmation to "user:ID" (the service on
// its own, without users).
func NewNotifications(s *store.Store, sender Sender, users UserDirectory) *Notifications {
	if sender == nil {
		sender = RecordingSender{}
	}
	return &Notifications{store: s, sender: sender, users: users, now: time.Now}
}

// Register adds the service's routes to r.
func (n *Notifications) Register(r gin.IRouter) {
	r.GET("/notifications", n.list)
}

// Handle reacts to one event. It is idempotent on the event's id: an event
// delivered again (delivery is at least once) sends nothing more. Events
// of other types are ignored. An error means the event should be
// delivered again later.
func (n *Notifications) Handle(ctx context.Context, e store.Event) error {
	e, err := Upcast(e)
	if err != nil {
		return err
	}
	var note Notification
	switch e.Type {
	case EventUserCreated:
		var u User
		if err := json.Unmarshal(e.Data, &u); err != nil {
			return fmt.Errorf("malformed %s event %s: %w", e.Type, e.ID, err)
		}
		note = Notification{Kind: "welcome", To: u.Email, Subject: "Welcome, " + u.Username,
			Body: fmt.Sprintf("Hello %s, your account is ready.", u.Username)}
	case EventOrderCreated:
		var o Order
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return fmt.Errorf("malformed %s event %s: %w", e.Type, e.ID, err)
		}
		to := fmt.Sprintf("user:%d", o.UserID)
		if n.users != nil {
			var err error
			if to, err = n.users.UserEmail(ctx, o.UserID); err != nil {
				return err // delivered again later: users may be back
			}
		}
		note = Notification{Kind: "order_confirmation", To: to,
			Subject: fmt.Sprintf("Order %d received", o.ID),
			Body:    fmt.Sprintf("Your order %d of %d items, %.2f %s in total, is %s.", o.ID, len(o.Items), o.TotalAmount, o.Currency, o.Status)}
	default:
		return nil
	}
	note.EventID = e.ID
	var sent bool
	err = n.store.Update(func(tx *store.Tx) error {
		_, sent, _ = tx.GetIndex("notifications_by_event", e.ID)
		return nil
	})
	if err != nil || sent {
		return err
	}
	if err := n.sender.Send(ctx, note); err != nil {
		return fmt.Errorf("send %s for event %s: %w", note.Kind, e.ID, err)
	}
	return n.store.Update(func(tx *store.Tx) error {
		if _, sent, err := tx.GetIndex("notifications_by_event", e.ID); err != nil || sent {
			return err
		}
		id, err := tx.NextID("notifications")
		if err != nil {
			return err
		}
		note.ID, note.SentAt = id, n.now().UTC()
		if err := tx.Put("notifications", id, note); err != nil {
			return err
		}
		return tx.PutIndex("notifications_by_event", e.ID, id)
	})
}

func (n *Notifications) list(c *gin.Context) {
	notes := []Notification{}
	err := n.store.List("notifications", func(_ uint64, data []byte) error {
		var note Notification
		if err := json.Unmarshal(data, &note); err != nil {
			return err
		}
		notes = append(notes, note)
		return nil
	})
	if err != nil {
		writeError(c, http.StatusInternalServerError, "cannot read the notifications")
		return
	}
	c.JSON(http.StatusOK, notes)
}
