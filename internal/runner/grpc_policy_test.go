package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// scripted is a health service whose Check answers by the service name
// it is asked about: "code:N" fails with code N, "once:N" fails with N
// the first time only, "pushback:MS" fails UNAVAILABLE the first time
// with grpc-retry-pushback-ms MS, "sleep" waits for its deadline;
// anything else is SERVING. It counts the calls of each name and keeps
// the deadline of the last.
type scripted struct {
	healthpb.UnimplementedHealthServer
	mu       sync.Mutex
	calls    map[string]int
	deadline time.Duration // left of the last call's deadline (0: none)
}

func newScripted() *scripted { return &scripted{calls: map[string]int{}} }

func (s *scripted) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.mu.Lock()
	s.calls[req.Service]++
	n := s.calls[req.Service]
	s.deadline = 0
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = time.Until(dl)
	}
	s.mu.Unlock()
	kind, arg, _ := strings.Cut(req.Service, ":")
	switch kind {
	case "code":
		return nil, status.Error(codeOf(arg), "scripted")
	case "once":
		if n == 1 {
			return nil, status.Error(codeOf(arg), "the first time")
		}
	case "pushback":
		if n == 1 {
			grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", arg))
			return nil, status.Error(codes.Unavailable, "come back later")
		}
	case "sleep":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *scripted) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *scripted) lastDeadline() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline
}

func codeOf(s string) codes.Code {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(s)); err != nil {
		panic(s)
	}
	return c
}

// bothServices are the routes of the health and test services.
const bothServices = "/grpc.health.v1.Health/*method,/grpc.testing.TestService/*method"

func check(t *testing.T, conn *grpc.ClientConn, name string, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: name})
	return err
}

// TestGRPCFailureCodes: failure_codes decides what opens the breaker.
func TestGRPCFailureCodes(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, newScripted())
	p, conn := grpcPlatform(t, srv, "hc", "/grpc.health.v1.Health/*method", `, failure_codes: ["INVALID_ARGUMENT"]`)
	for range 3 {
		if err := check(t, conn, "code:14", 5*time.Second); status.Code(err) != codes.Unavailable {
			t.Fatalf("code:14: %v", err)
		}
	}
	if s := p.r.Breakers()["hc"].State.String(); s != "closed" {
		t.Fatalf("UNAVAILABLE is not in failure_codes but opened the breaker: %s", s)
	}
	for range 2 {
		if err := check(t, conn, "code:3", 5*time.Second); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("code:3: %v", err)
		}
	}
	if s := p.r.Breakers()["hc"].State.String(); s != "open" {
		t.Errorf("two INVALID_ARGUMENT with failure_codes [INVALID_ARGUMENT]: breaker %s", s)
	}
}

// TestGRPCRetries: a Trailers-Only answer is tried again on retry_on's
// codes only, after the grpc-retry-pushback-ms the server asks for, and
// not when the server says not to (a negative pushback) or asks for
// longer than max_retry_backoff.
func TestGRPCRetries(t *testing.T) {
	for _, tc := range []struct {
		name, keys, call string
		want             codes.Code
		calls            int
		atLeast          time.Duration
	}{
		{"unavailable is retried", `, retries: 1`, "once:14", codes.OK, 2, 0},
		{"internal is not, by default", `, retries: 1`, "once:13", codes.Internal, 1, 0},
		{"retry_on names internal", `, retries: 1, retry_on: ["unavailable", "internal"]`, "once:13", codes.OK, 2, 0},
		{"without retries", ``, "once:14", codes.Unavailable, 1, 0},
		{"pushback is waited", `, retries: 1, max_retry_backoff: "1s"`, "pushback:150", codes.OK, 2, 150 * time.Millisecond},
		{"negative pushback: do not retry", `, retries: 1`, "pushback:-1", codes.Unavailable, 1, 0},
		{"pushback past max_retry_backoff", `, retries: 1, max_retry_backoff: "100ms"`, "pushback:5000", codes.Unavailable, 1, 0},
		{"the caller's error is not retried", `, retries: 3`, "code:3", codes.InvalidArgument, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScripted()
			srv := grpc.NewServer()
			healthpb.RegisterHealthServer(srv, s)
			_, conn := grpcPlatform(t, srv, "hc", "/grpc.health.v1.Health/*method", tc.keys)
			start := time.Now()
			err := check(t, conn, tc.call, 5*time.Second)
			if status.Code(err) != tc.want {
				t.Errorf("%s: %v, want %s", tc.call, err, tc.want)
			}
			if n := s.count(tc.call); n != tc.calls {
				t.Errorf("the server got %d calls, want %d", n, tc.calls)
			}
			if took := time.Since(start); took < tc.atLeast {
				t.Errorf("answered after %s, before the pushback of %s", took, tc.atLeast)
			}
		})
	}
}

// TestGRPCDeadlines: the client's grpc-timeout reaches the server,
// clamped by the service's deadline; a call without one is not given
// the deadline (it would cut streams) but is bounded by stream_timeout.
func TestGRPCDeadlines(t *testing.T) {
	s := newScripted()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, s)
	testpb.RegisterTestServiceServer(srv, streams{})
	_, conn := grpcPlatform(t, srv, "hc", bothServices, `, deadline: "2s"`)
	if err := check(t, conn, "a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := s.lastDeadline(); d <= 0 || d > 2*time.Second {
		t.Errorf("a 30 s call behind deadline 2s reached the server with %s left", d)
	}
	if err := check(t, conn, "a", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := s.lastDeadline(); d <= 0 || d > 500*time.Millisecond {
		t.Errorf("a 500 ms call reached the server with %s left", d)
	}
	if err := check(t, conn, "sleep", 300*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("sleep past the client's deadline: %v", err)
	}
	// No deadline of the client's: none at the server (deadline does not
	// cut a stream), so a stream outlives deadline.
	var out healthpb.HealthCheckResponse
	if err := conn.Invoke(context.Background(), "/grpc.health.v1.Health/Check", &healthpb.HealthCheckRequest{Service: "a"}, &out); err != nil {
		t.Fatal(err)
	}
	if d := s.lastDeadline(); d != 0 {
		t.Errorf("a call without a deadline reached the server with one: %s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past deadline, the stream idle
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("late")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := stream.Recv(); err != nil || string(got.GetPayload().GetBody()) != "late" {
		t.Fatalf("a stream past deadline: %v %v", got, err)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("the stream's end: %v", err)
	}
	// A call whose answer has begun, cut by deadline (the client's own
	// is later): it ends with DEADLINE_EXCEEDED, not a reset stream.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err = testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("first")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("an answer cut by deadline: %v, want DeadlineExceeded", err)
	}
}

// TestGRPCStreamTimeout: stream_timeout bounds every call, streams too,
// and reaches the server as its deadline.
func TestGRPCStreamTimeout(t *testing.T) {
	s := newScripted()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, s)
	testpb.RegisterTestServiceServer(srv, streams{})
	_, conn := grpcPlatform(t, srv, "hc", bothServices, `, stream_timeout: "400ms"`)
	var out healthpb.HealthCheckResponse
	if err := conn.Invoke(context.Background(), "/grpc.health.v1.Health/Check", &healthpb.HealthCheckRequest{Service: "a"}, &out); err != nil {
		t.Fatal(err)
	}
	if d := s.lastDeadline(); d <= 0 || d > 400*time.Millisecond {
		t.Errorf("stream_timeout 400ms: the server had %s", d)
	}
	stream, err := testpb.NewTestServiceClient(conn).FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Bool
	go func() {
		time.Sleep(5 * time.Second)
		if !ended.Load() {
			stream.CloseSend()
		}
	}()
	_, err = stream.Recv()
	ended.Store(true)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a stream past stream_timeout: %v, want DeadlineExceeded", err)
	}
}

// TestGRPCTimeout: timeout bounds a unary call, counted from when the
// client has sent it, and does not cut a stream whose client has not
// finished sending.
func TestGRPCTimeout(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, newScripted())
	testpb.RegisterTestServiceServer(srv, streams{})
	_, conn := grpcPlatform(t, srv, "hc", bothServices, `, timeout: "300ms"`)
	var out healthpb.HealthCheckResponse
	err := conn.Invoke(context.Background(), "/grpc.health.v1.Health/Check", &healthpb.HealthCheckRequest{Service: "sleep"}, &out)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a unary call slower than timeout: %v, want DeadlineExceeded", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the server answers nothing until the client sends
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := stream.Recv(); err != nil || string(got.GetPayload().GetBody()) != "x" {
		t.Fatalf("a stream quiet for longer than timeout: %v %v", got, err)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("the stream's end: %v", err)
	}
}

// TestGRPCHealthNamesAService: a gRPC probe asks about grpc_service, and
// an instance whose health service says NOT_SERVING for it leaves the
// balancer, and comes back when it says SERVING.
func TestGRPCHealthNamesAService(t *testing.T) {
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("shop.v1.Ledger", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	ln := serveGRPC(t, srv)
	p := startPlatform(t, fmt.Sprintf(`[services]
ledger { kind: "http", protocol: "grpc", instances: ["http://%s"], routes: ["/grpc.health.v1.Health/*method"] }
[health_checks]
ledger { grpc_service: "shop.v1.Ledger", interval: "50ms", retries: 1 }
`, ln.Addr()))
	state := func() string {
		for _, s := range p.r.Services() {
			if s.Name == "ledger" && len(s.Instances) == 1 {
				return s.Instances[0].Health
			}
		}
		return ""
	}
	eventually(t, "ledger healthy", func() bool { return state() == "healthy" })
	hs.SetServingStatus("shop.v1.Ledger", healthpb.HealthCheckResponse_NOT_SERVING)
	eventually(t, "ledger unhealthy on NOT_SERVING", func() bool { return state() == "unhealthy" })
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := check(t, conn, "", 5*time.Second); status.Code(err) != codes.Unavailable {
		t.Errorf("a call with the only instance out of the balancer: %v, want Unavailable", err)
	}
	hs.SetServingStatus("shop.v1.Ledger", healthpb.HealthCheckResponse_SERVING)
	eventually(t, "ledger healthy again", func() bool { return state() == "healthy" })
}

// TestGRPCClientCancelIsNoFailure: calls the client cancels (CANCELLED)
// leave the breaker closed and count for nothing.
func TestGRPCClientCancelIsNoFailure(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, newScripted())
	p, conn := grpcPlatform(t, srv, "hc", "/grpc.health.v1.Health/*method")
	for range 4 { // failure_threshold: 2
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "sleep"}); status.Code(err) != codes.Canceled {
			t.Fatalf("a cancelled call: %v", err)
		}
		cancel()
	}
	eventually(t, "the cancelled calls counted", func() bool { return p.r.Breakers()["hc"].Ignored >= 4 })
	if b := p.r.Breakers()["hc"]; b.State.String() != "closed" || b.Failures != 0 {
		t.Errorf("after four cancelled calls: %s with %d failures", b.State, b.Failures)
	}
}

// TestGRPCThroughTheMesh: a process's upstream listener of a gRPC target
// speaks h2c, and the pair's breaker reads grpc-status: the caller's
// errors pass, UNAVAILABLE opens it.
func TestGRPCThroughTheMesh(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, newScripted())
	ln := serveGRPC(t, srv)
	p := startPlatform(t, fmt.Sprintf(`[services]
ledger { kind: "http", protocol: "grpc", instances: ["http://%s"] }
worker { kind: "process", command: ["sleep", "600"], calls: ["ledger"] }
`, ln.Addr()))
	waitHealthy(t, p, "ledger")
	var addr string
	for _, pair := range p.r.Mesh() {
		if pair.Caller == "worker" && pair.Target == "ledger" {
			addr = pair.Address
		}
	}
	if addr == "" {
		t.Fatalf("no listener for worker->ledger: %+v", p.r.Mesh())
	}
	// The test dials the worker's COMPOSER_LEDGER_ADDR, as the worker would.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := check(t, conn, "a", 5*time.Second); err != nil {
		t.Fatalf("a call through the pair's listener: %v", err)
	}
	for range 3 {
		if err := check(t, conn, "code:3", 5*time.Second); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("code:3: %v", err)
		}
	}
	if s := p.r.Breakers()["worker->ledger"].State.String(); s != "closed" {
		t.Fatalf("the caller's errors opened worker->ledger: %s", s)
	}
	for range 2 {
		if err := check(t, conn, "code:14", 5*time.Second); status.Code(err) != codes.Unavailable {
			t.Fatalf("code:14: %v", err)
		}
	}
	if s := p.r.Breakers()["worker->ledger"].State.String(); s != "open" {
		t.Errorf("after two UNAVAILABLE through the mesh: worker->ledger %s", s)
	}
	if err := check(t, conn, "a", 5*time.Second); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "circuit breaker open") {
		t.Errorf("through the open pair breaker: %v", err)
	}
}
