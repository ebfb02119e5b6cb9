package runner

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serveGRPC serves srv on a loopback port until the test ends.
func serveGRPC(t *testing.T, srv *grpc.Server) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln
}

// grpcPlatform serves srv on loopback behind a `protocol: "grpc"`
// service named svc with the given routes (comma-separated; and more keys of its block,
// such as `, retries: 1`), waits until the composer finds it healthy (srv
// must have a health service), and returns a client connection to the
// gateway.
func grpcPlatform(t *testing.T, srv *grpc.Server, svc, route string, keys ...string) (*running, *grpc.ClientConn) {
	t.Helper()
	ln := serveGRPC(t, srv)
	var routes []string
	for _, r := range strings.Split(route, ",") {
		routes = append(routes, strconv.Quote(r))
	}
	p := startPlatform(t, fmt.Sprintf("[services]\n%s { kind: \"http\", protocol: \"grpc\", instances: [\"http://%s\"], routes: [%s]%s }\n",
		svc, ln.Addr(), strings.Join(routes, ", "), strings.Join(keys, "")))
	waitHealthy(t, p, svc)
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return p, conn
}

// TestGRPCThroughTheGateway: a grpc-go server behind a `protocol: "grpc"`
// service, health-checked with gRPC's health protocol, reached by a
// grpc-go client through the gateway's port (h2c beside HTTP/1.1), with
// the status codes of the trailers intact.
func TestGRPCThroughTheGateway(t *testing.T) {
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("billing", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	_, conn := grpcPlatform(t, srv, "hc", "/grpc.health.v1.Health/*method")
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check through the gateway: %v %v", resp, err)
	}
	if resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "billing"}); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Check(billing): %v %v", resp, err)
	}
	// An error status (a trailers-only answer) reaches the client as it is.
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nobody"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Check(nobody): %v, want NotFound", err)
	}
	// A server stream (Watch) through the gateway.
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch: %v %v", first, err)
	}
	hs.SetServingStatus("billing", healthpb.HealthCheckResponse_SERVING)
	if next, err := stream.Recv(); err != nil || next.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Watch's next message: %v %v", next, err)
	}
}

// flaky answers Check with the status the service name asks for.
type flaky struct {
	healthpb.UnimplementedHealthServer
}

func (flaky) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	switch req.Service {
	case "unavailable":
		return nil, status.Error(codes.Unavailable, "down")
	case "invalid":
		return nil, status.Error(codes.InvalidArgument, "your fault")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// TestGRPCStatusDrivesTheBreaker: gRPC errors arrive as HTTP 200; the
// breaker reads their grpc-status: the caller's errors do not count,
// UNAVAILABLE does, and opens it.
func TestGRPCStatusDrivesTheBreaker(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, flaky{})
	p, conn := grpcPlatform(t, srv, "hc", "/grpc.health.v1.Health/*method")
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 5 {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "invalid"}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("invalid: %v", err)
		}
	}
	if s := p.r.Breakers()["hc"].State.String(); s != "closed" {
		t.Fatalf("the caller's own errors opened the breaker: %s", s)
	}
	for range 2 { // failure_threshold: 2
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unavailable"}); status.Code(err) != codes.Unavailable {
			t.Fatalf("unavailable: %v", err)
		}
	}
	if s := p.r.Breakers()["hc"].State.String(); s != "open" {
		t.Errorf("after two UNAVAILABLE: %s", s)
	}
	// The composer's own errors come in gRPC's form.
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "circuit breaker open") {
		t.Errorf("through the open breaker: %v", err)
	}
	var out healthpb.HealthCheckResponse
	err = conn.Invoke(ctx, "/shop.v1.Nothing/Do", &healthpb.HealthCheckRequest{}, &out)
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("a method no route serves: %v", err)
	}
}
