package services

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/tracing"
	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
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
	Currency    string    `json:"currency"` // ISO 4217, such as EUR
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Version is the order's aggregate version: 1 when created, one more
	// at each status change (the ETag of GET /orders/:id).
	Version uint64 `json:"version"`
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
	r.Any(OrdersGRPCRoute, gin.WrapH(grpcHandler(&shopv1.Orders_ServiceDesc, ordersGRPC{o: o})))
}

// NewOrder is what an order is created with.
type NewOrder struct {
	UserID   uint64 `json:"user_id"`
	Items    []Item `json:"items"`
	Currency string `json:"currency,omitempty"` // default EUR
}

func (o *Orders) create(c *gin.Context) {
	var req NewOrder
	if !decodeJSON(c, &req) {
		return
	}
	order, err := o.Create(c.Request.Context(), c.GetHeader("X-Request-Id"), req)
	answer(c, http.StatusCreated, order, err)
}

// Create validates an order, checks that its user exists (through the
// UserChecker), stores it as Pending and emits order.created in the same
// transaction; requestID becomes the event's correlation id. Its errors
// are Problems: Invalid, Unprocessable (no such user), Unavailable (users
// cannot be asked, or no store node), Internal.
func (o *Orders) Create(ctx context.Context, requestID string, req NewOrder) (Order, error) {
	var problems []string
	if req.UserID == 0 {
		problems = append(problems, "user_id: a user's id")
	}
	if len(req.Items) == 0 {
		problems = append(problems, "items: at least one item")
	}
	if req.Currency == "" {
		req.Currency = DefaultCurrency
	}
	if !currencyPattern.MatchString(req.Currency) {
		problems = append(problems, "currency: three capital letters, such as EUR")
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
		return Order{}, problem(Invalid, "%s", strings.Join(problems, "; "))
	}
	exists, err := o.users.UserExists(ctx, req.UserID)
	switch {
	case err != nil:
		return Order{}, problem(Unavailable, "cannot check the user: %v", err)
	case !exists:
		return Order{}, problem(Unprocessable, "no user %d", req.UserID)
	}
	now := o.now().UTC()
	order := Order{UserID: req.UserID, Items: req.Items, TotalAmount: math.Round(total*100) / 100, Status: "Pending", CreatedAt: now, UpdatedAt: now, Version: 1, Currency: req.Currency}
	err = o.store.Update(func(tx *store.Tx) error {
		id, err := tx.NextID("orders")
		if err != nil {
			return err
		}
		order.ID = id
		data, _ := json.Marshal(order)
		e, err := tx.Emit(store.Event{
			Type: EventOrderCreated, Source: "/services/orders", Subject: strconv.FormatUint(id, 10), Data: data,
			CorrelationID: requestID, TraceParent: tracing.TraceParent(ctx), AggregateType: "order", AggregateVersion: 1, DataSchema: SchemaOrderCreated,
		})
		if err != nil {
			return err
		}
		return Apply(tx, e) // the order, as the event makes it
	})
	switch {
	case errors.Is(err, store.ErrNoNode):
		return Order{}, problem(Unavailable, "%s", err.Error())
	case err != nil:
		return Order{}, problem(Internal, "cannot store the order")
	}
	return order, nil
}

func (o *Orders) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	order, err := o.Get(id)
	if err == nil {
		c.Header("ETag", etag(order.Version))
	}
	answer(c, http.StatusOK, order, err)
}

// etag is an order version's entity tag.
func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// Get returns the order with the id; NotFound when there is none.
func (o *Orders) Get(id uint64) (Order, error) {
	var order Order
	found, err := o.store.Get("orders", id, &order)
	switch {
	case err != nil:
		return Order{}, problem(Internal, "cannot read the order")
	case !found:
		return Order{}, problem(NotFound, "no order %d", id)
	}
	return order, nil
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

// currencyPattern is an ISO 4217 code's shape.
var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// errStale is an If-Match of a version the order is no longer at.
type errStale struct{ version uint64 }

func (e errStale) Error() string { return fmt.Sprintf("the order is at version %d", e.version) }

func (o *Orders) setStatus(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req statusRequest
	if !decodeJSON(c, &req) {
		return
	}
	var expect uint64 // If-Match: the version the client has seen
	if m := strings.TrimSpace(c.GetHeader("If-Match")); m != "" && m != "*" {
		v, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil || v == 0 {
			writeError(c, http.StatusBadRequest, fmt.Sprintf("If-Match %s is not an order's ETag (\"3\")", m))
			return
		}
		expect = v
	}
	order, err := o.SetStatus(c.Request.Context(), c.GetHeader("X-Request-Id"), id, req.Status, expect)
	if err == nil {
		c.Header("ETag", etag(order.Version))
	}
	answer(c, http.StatusOK, order, err)
}

// SetStatus changes an order's status, when its status allows the change,
// and emits order.status_changed in the same transaction (setting the
// status it has changes nothing). Its errors are Problems: Invalid (not
// a status), NotFound, NotAllowed, Internal.
func (o *Orders) SetStatus(ctx context.Context, requestID string, id uint64, status string, expect uint64) (Order, error) {
	if _, known := orderTransitions[status]; !known {
		return Order{}, problem(Invalid, "status %q is not one of Pending, Confirmed, Shipped, Delivered, Cancelled", status)
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
		if expect != 0 && order.Version != expect {
			return errStale{order.Version}
		}
		if order.Status == status {
			return nil
		}
		allowed := false
		for _, s := range orderTransitions[order.Status] {
			allowed = allowed || s == status
		}
		if !allowed {
			return errTransition{order.Status, status}
		}
		from := order.Status
		order.Status, order.UpdatedAt, order.Version = status, o.now().UTC(), order.Version+1
		data, _ := json.Marshal(statusChange{ID: id, From: from, To: status, UpdatedAt: order.UpdatedAt})
		e, err := tx.Emit(store.Event{
			Type: EventOrderStatusChanged, Source: "/services/orders", Subject: strconv.FormatUint(id, 10), Data: data,
			CorrelationID: requestID, TraceParent: tracing.TraceParent(ctx), AggregateType: "order", AggregateVersion: order.Version, DataSchema: SchemaOrderStatusChanged,
		})
		if err != nil {
			return err
		}
		return Apply(tx, e) // the order's new status and version, as the event makes them
	})
	var bad errTransition
	var stale errStale
	switch {
	case errors.Is(err, errNoOrder):
		return Order{}, problem(NotFound, "no order %d", id)
	case errors.As(err, &stale):
		return Order{}, problem(Stale, "order %d is at version %d, not %d: read it again", id, stale.version, expect)
	case errors.Is(err, store.ErrVersionConflict):
		return Order{}, problem(Stale, "order %d changed meanwhile: read it again", id)
	case errors.As(err, &bad):
		return Order{}, problem(NotAllowed, "%s", bad.Error())
	case err != nil:
		return Order{}, problem(Internal, "cannot store the order")
	}
	return order, nil
}
