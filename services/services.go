// Package services holds the seed's built-in services: users, orders and
// notifications, the example domain that a platform file runs with
// `kind: "builtin"`. Their HTTP handlers, persistence and events come with
// the composer's runtime; this package names them, so that a platform file
// can be checked before anything runs.
package services

// Builtin lists the names of the built-in services, in the order they
// depend on each other (orders calls users; notifications reacts to both).
var Builtin = []string{"users", "orders", "notifications"}

// IsBuiltin reports whether name is a built-in service.
func IsBuiltin(name string) bool {
	for _, b := range Builtin {
		if b == name {
			return true
		}
	}
	return false
}
