package services

import (
	"encoding/json"
	"fmt"

	"github.com/tuskcompose/composer/internal/store"
)

// The data schemas of the built-in services' events: what each event's
// dataschema names, the current version of each type.
const (
	SchemaUserCreated         = "/schemas/user.created/v1"
	SchemaOrderCreated        = "/schemas/order.created/v2" // v2: the order's currency
	SchemaOrderStatusChanged  = "/schemas/order.status_changed/v1"
	schemaOrderCreatedV1      = "/schemas/order.created/v1"
	DefaultCurrency           = "EUR" // an order without one (and every order.created of v1)
	orderCreatedBeforeSchemas = ""    // events written before dataschema was
)

// Upcast turns an event of an older data schema into the current one,
// when it is read (the store keeps what was written): order.created of
// v1, without a currency, reads as v2 with "EUR". Events of other types
// and of the current schemas come back as they are.
func Upcast(e store.Event) (store.Event, error) {
	if e.Type != EventOrderCreated || e.DataSchema == SchemaOrderCreated {
		return e, nil
	}
	switch e.DataSchema {
	case orderCreatedBeforeSchemas, schemaOrderCreatedV1:
	default:
		return e, fmt.Errorf("%s event %s: unknown data schema %q", e.Type, e.ID, e.DataSchema)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return e, fmt.Errorf("%s event %s: %w", e.Type, e.ID, err)
	}
	if _, ok := data["currency"]; !ok {
		data["currency"] = json.RawMessage(`"` + DefaultCurrency + `"`)
	}
	out, err := json.Marshal(data)
	if err != nil {
		return e, err
	}
	e.Data, e.DataSchema = out, SchemaOrderCreated
	return e, nil
}
