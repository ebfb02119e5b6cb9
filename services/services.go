// Package services holds the seed's built-in services, the example domain
// that a platform file runs with `kind: "builtin"`:
//
//   - users: POST /users, GET /users/:id; publishes user.created;
//   - orders: POST /orders (checking the user over HTTP through a circuit
//     breaker, UsersClient), GET /orders/:id, PUT /orders/:id/status;
//     publishes order.created and order.status_changed;
//   - notifications: reacts to user.created and order.created (Handle,
//     idempotent on the event id), GET /notifications.
//
// Entities live in the embedded store, and every event is written to the
// store's outbox in the same transaction as the entity it describes.
package services

// Builtin lists the names of the built-in services, in the order they
// depend on each other (orders calls users; notifications reacts to both).
var Builtin = []string{"users", "orders", "notifications"}

// BuiltinRoutes lists the routes each built-in service serves; a platform
// file exposes some or all of them.
var BuiltinRoutes = map[string][]string{
	"users":         {"/users", "/users/:id", "/health"},
	"orders":        {"/orders", "/orders/:id", "/orders/:id/status"},
	"notifications": {"/notifications"},
}

// IsBuiltin reports whether name is a built-in service.
func IsBuiltin(name string) bool {
	for _, b := range Builtin {
		if b == name {
			return true
		}
	}
	return false
}
