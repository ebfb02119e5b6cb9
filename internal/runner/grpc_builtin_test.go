package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
)

// builtinGRPC exposes the built-in services' gRPC APIs beside their
// HTTP routes (a later [services] block adds to the earlier one).
const builtinGRPC = `
[services]
users { routes: ["/users", "/users/:id", "/shop.v1.Users/*method"] }
orders { routes: ["/orders", "/orders/:id", "/orders/:id/status", "/shop.v1.Orders/*method"] }
`

// TestBuiltinsSpeakGRPC: shop.v1.Users and shop.v1.Orders on the
// gateway's port, on the same store and with the same rules as the JSON
// routes (each error its gRPC code), the events they emit, and orders
// asking users over gRPC through the mesh's pair orders->users.
func TestBuiltinsSpeakGRPC(t *testing.T) {
	p := startPlatform(t, builtinGRPC)
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	users, orders := shopv1.NewUsersClient(conn), shopv1.NewOrdersClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ada, err := users.CreateUser(ctx, &shopv1.CreateUserRequest{Username: "ada", Email: "ada@example.com", Password: "correct horse"})
	if err != nil || ada.Id == 0 || ada.CreatedAt == nil {
		t.Fatalf("CreateUser: %v %v", ada, err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
		msg  string
	}{
		{"a taken username", func() error {
			_, err := users.CreateUser(ctx, &shopv1.CreateUserRequest{Username: "ada", Email: "other@example.com", Password: "correct horse"})
			return err
		}, codes.AlreadyExists, "username is already taken"},
		{"a bad email", func() error {
			_, err := users.CreateUser(ctx, &shopv1.CreateUserRequest{Username: "bob", Email: "bob", Password: "correct horse"})
			return err
		}, codes.InvalidArgument, "email"},
		{"no such user", func() error { _, err := users.GetUser(ctx, &shopv1.GetUserRequest{Id: 999}); return err }, codes.NotFound, "no user 999"},
		{"an order of nobody", func() error {
			_, err := orders.CreateOrder(ctx, &shopv1.CreateOrderRequest{UserId: 999, Items: []*shopv1.Item{{ProductId: "p", Quantity: 1, Price: 1}}})
			return err
		}, codes.FailedPrecondition, "no user 999"},
		{"an order without items", func() error {
			_, err := orders.CreateOrder(ctx, &shopv1.CreateOrderRequest{UserId: ada.Id})
			return err
		}, codes.InvalidArgument, "items"},
	} {
		if st, _ := status.FromError(tc.call()); st.Code() != tc.want || !strings.Contains(st.Message(), tc.msg) {
			t.Errorf("%s: %v, want %s %q", tc.name, st, tc.want, tc.msg)
		}
	}
	got, err := users.GetUser(ctx, &shopv1.GetUserRequest{Id: ada.Id})
	if err != nil || got.Username != "ada" || got.Email != "ada@example.com" {
		t.Fatalf("GetUser: %v %v", got, err)
	}
	order, err := orders.CreateOrder(ctx, &shopv1.CreateOrderRequest{UserId: ada.Id,
		Items: []*shopv1.Item{{ProductId: "book", Quantity: 2, Price: 12.5}}})
	if err != nil || order.Status != "Pending" || order.TotalAmount != 25 {
		t.Fatalf("CreateOrder: %v %v", order, err)
	}
	if _, err := orders.UpdateOrderStatus(ctx, &shopv1.UpdateOrderStatusRequest{Id: order.Id, Status: "Delivered"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Pending to Delivered: %v, want FailedPrecondition", err)
	}
	if o, err := orders.UpdateOrderStatus(ctx, &shopv1.UpdateOrderStatusRequest{Id: order.Id, Status: "Confirmed", IfVersion: 1}); err != nil || o.Status != "Confirmed" || o.Version != 2 || o.Currency != "EUR" {
		t.Errorf("Pending to Confirmed: %v %v", o, err)
	}
	if _, err := orders.UpdateOrderStatus(ctx, &shopv1.UpdateOrderStatusRequest{Id: order.Id, Status: "Cancelled", IfVersion: 1}); status.Code(err) != codes.Aborted {
		t.Errorf("a change of a stale version: %v, want Aborted", err)
	}
	// The same store as the JSON routes.
	gw := "http://" + p.r.GatewayAddr()
	if code, body := call(t, "GET", fmt.Sprintf("%s/orders/%d", gw, order.Id), ""); code != 200 || !strings.Contains(body, `"status":"Confirmed"`) {
		t.Errorf("GET /orders/%d: %d %s", order.Id, code, body)
	}
	eventually(t, "the welcome and the confirmation", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Contains(body, "welcome") && strings.Contains(body, "order_confirmation")
	})
	// orders asked users twice (the order of nobody, then ada's), over
	// the pair's breaker; NOT_FOUND is an answer, not a failure.
	b := p.r.Breakers()["orders->users"]
	if b.Successes != 2 || b.Failures != 0 {
		t.Errorf("the breaker orders->users: %+v, want 2 successes", b)
	}
	m := scrape(t, "http://"+p.r.AdminAddr())
	for k, want := range map[string]string{
		`composer_grpc_calls_total{code="OK",grpc_method="CreateUser",grpc_service="shop.v1.Users",service="users"}`:                    "1",
		`composer_grpc_calls_total{code="AlreadyExists",grpc_method="CreateUser",grpc_service="shop.v1.Users",service="users"}`:         "1",
		`composer_grpc_calls_total{code="FailedPrecondition",grpc_method="CreateOrder",grpc_service="shop.v1.Orders",service="orders"}`: "1",
		`composer_mesh_tries_total{caller="orders",outcome="success",target="users"}`:                                                   "2",
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %s", k, m[k], want)
		}
	}
}

// TestComposerHealthService: the composer answers grpc.health.v1 on the
// gateway's port about its services, by name or by the gRPC service a
// route serves: Check, Watch (a change comes as it happens) and List.
func TestComposerHealthService(t *testing.T) {
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	ln := serveGRPC(t, srv)
	p := startPlatform(t, builtinGRPC+fmt.Sprintf(`ledger { kind: "http", protocol: "grpc", instances: ["http://%s"], routes: ["/shop.v1.Ledger/*method"] }
`, ln.Addr()))
	waitHealthy(t, p, "ledger")
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		"": healthpb.HealthCheckResponse_SERVING, "users": healthpb.HealthCheckResponse_SERVING,
		"shop.v1.Users": healthpb.HealthCheckResponse_SERVING, "ledger": healthpb.HealthCheckResponse_SERVING,
		"shop.v1.Ledger": healthpb.HealthCheckResponse_SERVING,
	} {
		if resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: name}); err != nil || resp.Status != want {
			t.Errorf("Check(%q): %v %v, want %s", name, resp, err, want)
		}
	}
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nobody"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check(nobody): %v, want NotFound", err)
	}
	list, err := client.List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range list.Statuses {
		names = append(names, name)
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != ",ledger,notifications,orders,shop.v1.Ledger,shop.v1.Orders,shop.v1.Users,users" {
		t.Errorf("List: %s", got)
	}
	watch, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "ledger"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch(ledger): %v %v", first, err)
	}
	srv.Stop() // its instance fails its probes
	if next, err := watch.Recv(); err != nil || next.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch(ledger) once it is down: %v %v", next, err)
	}
	unknown, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := unknown.Recv(); err != nil || first.Status != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Errorf("Watch(nobody): %v %v", first, err)
	}
}
