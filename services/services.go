// Package services holds the seed's built-in services, the example domain
// that a platform file runs with `kind: "builtin"`:
//
//   - users: POST /users, GET /users/:id, and shop.v1.Users over gRPC;
//     publishes user.created;
//   - orders: POST /orders (checking the user through a circuit breaker,
//     over gRPC in a platform: UsersGRPCClient), GET /orders/:id,
//     PUT /orders/:id/status, and shop.v1.Orders over gRPC; publishes
//     order.created and order.status_changed;
//   - notifications: reacts to user.created and order.created (Handle,
//     idempotent on the event id), GET /notifications.
//
// Each service has its own store (OpenStore). A command writes its event
// to the store's outbox and applies it to the entities (Apply) in one
// transaction; the entities are a projection of the events, which
// ProjectOnce keeps up with the event store on either bus (the events of
// other instances) and Rebuild makes again from it.
package services

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/tuskcompose/composer/internal/store"
)

// Env is what a built-in service is built with.
type Env struct {
	// Store is the service's own (OpenStore).
	Store *store.Store
	// Users is how orders reaches users: the call orders -> users, through
	// that call's circuit breaker.
	Users UserChecker
	// Directory is how notifications finds a user's address (the call
	// notifications -> users); Sender how it sends (nil: it records).
	Directory UserDirectory
	Sender    Sender
}

// Service is a built-in service, as the gateway mounts it.
type Service interface {
	Register(gin.IRouter)
}

// Consumer is a built-in service that events can be delivered to (an
// event route's target).
type Consumer interface {
	Handle(ctx context.Context, e store.Event) error
}

// Descriptor describes one built-in service: what the runner needs to
// know to validate, mount and wire it without naming it.
type Descriptor struct {
	Name      string
	Routes    []string // the routes it serves; a platform exposes some or all
	Publishes []string // the topics it publishes
	Consumes  bool     // events can be routed to it (New returns a Consumer)
	// Calls are the services it calls itself (through the mesh, with the
	// pair's breaker), when the platform has them.
	Calls []string
	New   func(Env) Service
	// Owns is what the service keeps in its own store; Keeps the kinds
	// of it that are not derived from its events (a rebuild leaves them).
	Owns  store.Owned
	Keeps []string
	// upgrade, when set, brings the service's entities of an older
	// release to their current shape, in the store's first transaction
	// at every open (it must be idempotent).
	upgrade func(*store.Tx) error
}

// Registry lists the built-in services, in the order they depend on
// each other (orders calls users; notifications reacts to both).
var Registry = []Descriptor{
	{Name: "users", Routes: []string{"/users", "/users/:id", "/health", UsersGRPCRoute}, Publishes: []string{EventUserCreated},
		New:   func(env Env) Service { return NewUsers(env.Store) },
		Owns:  store.Owned{Kinds: []string{"users", "credentials"}, Indexes: []string{"users_by_name", "users_by_email"}, Aggregates: []string{"user"}, Source: "/services/users"},
		Keeps: []string{"credentials"}, upgrade: moveCredentials},
	{Name: "orders", Routes: []string{"/orders", "/orders/:id", "/orders/:id/status", OrdersGRPCRoute},
		Publishes: []string{EventOrderCreated, EventOrderStatusChanged}, Calls: []string{"users"},
		New:  func(env Env) Service { return NewOrders(env.Store, env.Users) },
		Owns: store.Owned{Kinds: []string{"orders"}, Aggregates: []string{"order"}, Source: "/services/orders"}},
	{Name: "notifications", Routes: []string{"/notifications"}, Consumes: true, Calls: []string{"users"},
		New:  func(env Env) Service { return NewNotifications(env.Store, env.Sender, env.Directory) },
		Owns: store.Owned{Kinds: []string{"notifications"}, Indexes: []string{"notifications_by_event"}, Source: "/services/notifications"}},
}

// Lookup returns the built-in service called name, or nil.
func Lookup(name string) *Descriptor {
	for i := range Registry {
		if Registry[i].Name == name {
			return &Registry[i]
		}
	}
	return nil
}

// Topics are the topics the built-in services publish.
var Topics = func() []string {
	var out []string
	for _, d := range Registry {
		out = append(out, d.Publishes...)
	}
	return out
}()

// Builtin lists the names of the built-in services, in Registry's order.
var Builtin = func() []string {
	var out []string
	for _, d := range Registry {
		out = append(out, d.Name)
	}
	return out
}()

// BuiltinRoutes lists the routes each built-in service serves.
var BuiltinRoutes = func() map[string][]string {
	out := map[string][]string{}
	for _, d := range Registry {
		out[d.Name] = d.Routes
	}
	return out
}()

// IsBuiltin reports whether name is a built-in service.
func IsBuiltin(name string) bool { return Lookup(name) != nil }
