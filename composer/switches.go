package composer

import (
	"fmt"

	"github.com/tuskcompose/composer/tsk"
)

// unsupported names the seed's switches that ask for something the
// composer does not do yet, with what the user should know.
var unsupported = []struct{ path, what string }{
	{"microservices_architecture.service_mesh", "the composer has no service mesh"},
	{"microservices_configuration.enable_service_mesh", "the composer has no service mesh"},
	{"service_communication.grpc", "services are reached over HTTP only"},
}

// Warnings reports the seed's switches that are on but have no effect yet.
// They do not make a platform invalid: the seed's own files set them, and
// the rest of such a platform runs.
func Warnings(doc *tsk.Document) tsk.Diagnostics {
	var out tsk.Diagnostics
	for _, u := range unsupported {
		if v := doc.Lookup(u.path); v != nil && v.Kind == tsk.Bool && v.Bool {
			out = append(out, tsk.Diagnostic{Pos: v.Pos, Msg: fmt.Sprintf("warning: %s: %s; the switch has no effect", u.path, u.what)})
		}
	}
	return out.Sort()
}
