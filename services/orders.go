package services

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/tracing"
)

// The order statuses of the seed, and the changes allowed between them.
var orderTransitions = map[string][]string{
	"Pending":   {"Confirmed", "Cancelled"},
	"Confirmed": {"Shipped", "Cancelled"},
	"Shipped":   {"Delivered"},
	"Delivered": nil,
	"Cancelled": nil,
}

// The event types the orders service publishes.
const (
	EventOrderCreated       = "order.created"
	EventOrderStatusChanged = "order.status_changed"
)

// Item is one line of an order.
type Item struct {
	ProductID ProductID `json:"product_id"`
	Quantity  int       `json:"quantity"`
	Price     float64   `json:"price"`
}

// ProductID is a product's id, written as a string or a number.
type ProductID string

// UnmarshalJSON accepts "sku-1" and 17.
func (p *ProductID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = ProductID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("product_id must be a string or a number")
	}
	*p = ProductID(n.String())
	return nil
}

// Order is an order of the orders service.
type Order struct {
	ID          uint64    `json:"id"`
	UserID      uint64    `json:"user_id"`
	Items       []Item    `json:"items"`
	TotalAmount float64   `json:"total_amount"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// UserChecker tells whether a user exists. It returns ErrUsersUnavailable
// when it cannot tell.
type UserChecker interface {
	UserExists(ctx context.Context, id uint64) (bool, error)
}

// ErrUsersUnavailable: the users service cannot be asked (unreachable, or
// its circuit breaker is open).
var ErrUsersUnavailable = errors.New("the users service is unavailable")

// Orders is the orders service: POST /orders, GET /orders/:id,
// PUT /orders/:id/status.
type Orders struct {
	store *store.Store
	users UserChecker
	now   func() time.Time
}

// NewOrders returns the orders service; it checks users with users.
func NewOrders(s *store.Store, users UserChecker) *Orders {
	return &Orders{store: s, users: users, now: time.Now}
}

// Register adds the service's routes to r.
func (o *Orders) Register(r gin.IRouter) {
	r.POST("/orders", o.create)
	r.GET("/orders/:id", o.get)
	r.PUT("/orders/:id/status", o.setStatus)
}

type createOrderRequest struct {
	UserID uint64 `json:"user_id"`
	Items  []Item `json:"items"`
}

func (o *Orders) create(c *gin.Context) {
	var req createOrderRequest
	if !decodeJSON(c, &req) {
		return
	}
	var problems []string
	if req.UserID == 0 {
		problems = append(problems, "user_id: a user's id")
	}
	if len(req.Items) == 0 {
		problems = append(problems, "items: at least one item")
	}
	total := 0.0
	for i, it := range req.Items {
		if it.ProductID == "" {
			problems = append(problems, fmt.Sprintf("items[%d].product_id: required", i))
		}
		if it.Quantity < 1 {
			problems = append(problems, fmt.Sprintf("items[%d].quantity: at least 1", i))
		}
		if it.Price < 0 || math.IsNaN(it.Price) || math.IsInf(it.Price, 0) {
			problems = append(problems, fmt.Sprintf("items[%d].price: zero or more", i))
		}
		total += float64(it.Quantity) * it.Price
	}
	if len(problems) > 0 {
		writeError(c, http.StatusBadRequest, strings.Join(problems, "; "))
		return
	}
	exists, err := o.users.UserExists(c.Request.Context(), req.UserID)
	switch {
	case err != nil:
		writeError(c, http.StatusServiceUnavailable, "cannot check the user: "+err.Error())
		return
	case !exists:
		writeError(c, http.StatusUnprocessableEntity, fmt.Sprintf("no user %d", req.UserID))
		return
	}
	now := o.now().UTC()
	order := Order{UserID: req.UserID, Items: req.Items, TotalAmount: math.Round(total*100) / 100, Status: "Pending", CreatedAt: now, UpdatedAt: now}
	err = o.store.Update(func(tx *store.Tx) error {
		id, err := tx.NextID("orders")
		if err != nil {
			return err
		}
		order.ID = id
		if err := tx.Put("orders", id, order); err != nil {
			return err
		}
		data, _ := json.Marshal(order)
		_, err = tx.Emit(store.Event{
			Type: EventOrderCreated, Source: "/services/orders", Subject: strconv.FormatUint(id, 10), Data: data,
			CorrelationID: c.GetHeader("X-Request-Id"), TraceParent: tracing.TraceParent(c.Request.Context()),
		})
		return err
	})
	switch {
	case errors.Is(err, store.ErrNoNode):
		writeError(c, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(c, http.StatusInternalServerError, "cannot store the order")
		return
	}
	c.JSON(http.StatusCreated, order)
}

func (o *Orders) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var order Order
	found, err := o.store.Get("orders", id, &order)
	switch {
	case err != nil:
		writeError(c, http.StatusInternalServerError, "cannot read the order")
	case !found:
		writeError(c, http.StatusNotFound, fmt.Sprintf("no order %d", id))
	default:
		c.JSON(http.StatusOK, order)
	}
}

type statusRequest struct {
	Status string `json:"status"`
}

// errTransition is a status change the order's status does not allow.
type errTransition struct{ from, to string }

func (e errTransition) Error() string {
	allowed := orderTransitions[e.from]
	if len(allowed) == 0 {
		return fmt.Sprintf("the order is %s: its status can no longer change", e.from)
	}
	return fmt.Sprintf("a %s order can become %s, not %s", e.from, strings.Join(allowed, " or "), e.to)
}

var errNoOrder = errors.New("no such order")

func (o *Orders) setStatus(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req statusRequest
	if !decodeJSON(c, &req) {
		return
	}
	if _, known := orderTransitions[req.Status]; !known {
		writeError(c, http.StatusBadRequest, fmt.Sprintf("status %q is not one of Pending, Confirmed, Shipped, Delivered, Cancelled", req.Status))
		return
	}
	var order Order
	err := o.store.Update(func(tx *store.Tx) error {
		found, err := tx.Get("orders", id, &order)
		if err != nil {
			return err
		}
		if !found {
			return errNoOrder
		}
		if order.Status == req.Status {
			return nil
		}
		allowed := false
		for _, s := range orderTransitions[order.Status] {
			allowed = allowed || s == req.Status
		}
		if !allowed {
			return errTransition{order.Status, req.Status}
		}
		from := order.Status
		order.Status, order.UpdatedAt = req.Status, o.now().UTC()
		if err := tx.Put("orders", id, order); err != nil {
			return err
		}
		data, _ := json.Marshal(statusChange{ID: id, From: from, To: req.Status, UpdatedAt: order.UpdatedAt})
		_, err = tx.Emit(store.Event{
			Type: EventOrderStatusChanged, Source: "/services/orders", Subject: strconv.FormatUint(id, 10), Data: data,
			CorrelationID: c.GetHeader("X-Request-Id"), TraceParent: tracing.TraceParent(c.Request.Context()),
		})
		return err
	})
	var bad errTransition
	switch {
	case errors.Is(err, errNoOrder):
		writeError(c, http.StatusNotFound, fmt.Sprintf("no order %d", id))
	case errors.As(err, &bad):
		writeError(c, http.StatusConflict, bad.Error())
	case err != nil:
		writeError(c, http.StatusInternalServerError, "cannot store the order")
	default:
		c.JSON(http.StatusOK, order)
	}
}
