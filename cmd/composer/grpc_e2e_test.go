package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
)

// The gRPC tools of the interop test, at the versions it was written
// against; goTool installs them into the repository's .bin on first use.
const (
	grpcurlPkg     = "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4"
	healthProbePkg = "github.com/grpc-ecosystem/grpc-health-probe@v0.4.62"
)

var toolMu sync.Mutex

// unary is grpc-go's interop test service with its UnaryCall: a payload
// of the size asked for.
type unary struct {
	testpb.UnimplementedTestServiceServer
}

func (unary) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: make([]byte, req.GetResponseSize())}}, nil
}

// goTool returns the path of a Go program, installed with `go install`
// into ../../.bin (ignored by git) the first time: the tests' own copy of
// a tool that users install the same way.
func goTool(t *testing.T, name, pkg string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	dir, err := filepath.Abs("../../.bin")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	cmd := exec.Command("go", "install", pkg)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", pkg, err, out)
	}
	return path
}

// runTool runs a tool with a bounded time and returns its output and exit code.
func runTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), 0
}

// TestGRPCInterop: grpc_health_probe passes against the composer's own
// health service and fails for a service that is down; grpcurl lists and
// calls the built-in services by the composer's reflection, and, once a
// reload routes reflection to a gRPC service of the platform, lists that
// service's own API through the gateway.
func TestGRPCInterop(t *testing.T) {
	grpcurl, probe := goTool(t, "grpcurl", grpcurlPkg), goTool(t, "grpc-health-probe", healthProbePkg)
	// An instance with grpc-go's interop test service, health and reflection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, unary{})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	go srv.Serve(ln)
	defer srv.Stop()

	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "platform.tsk")
	platform := func(testRoutes string) string {
		return fmt.Sprintf(`[composer]
name: "shop"
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
data_dir: %q
[services]
users { kind: "builtin", routes: ["/users", "/users/:id", "/shop.v1.Users/*method"] }
orders { kind: "builtin", routes: ["/shop.v1.Orders/*method"], calls: ["users"] }
testing { kind: "http", protocol: "grpc", instances: ["http://%s"], routes: [%s] }
dead { kind: "http", instances: ["http://127.0.0.1:1"] }
[health_checks]
interval: "100ms"
retries: 1
`, filepath.Join(dir, "data"), ln.Addr(), testRoutes)
	}
	writePlatform(t, file, platform(`"/grpc.testing.TestService/*method"`))
	b := startBinary(t, bin, file)
	addr := strings.TrimPrefix(b.gateway, "http://")

	// grpc_health_probe: the composer, a builtin by name and by its gRPC
	// name, a healthy gRPC service; a dead one fails (NOT_SERVING is 4).
	waitFor(t, "testing healthy", func() bool {
		_, code := runTool(t, probe, "-addr", addr, "-service", "testing")
		return code == 0
	})
	for _, svc := range []string{"", "users", "shop.v1.Users"} {
		if out, code := runTool(t, probe, "-addr", addr, "-service", svc); code != 0 {
			t.Errorf("grpc_health_probe -service %q: exit %d: %s", svc, code, out)
		}
	}
	if out, code := runTool(t, probe, "-addr", addr, "-service", "dead"); code != 4 || !strings.Contains(out, "NOT_SERVING") {
		t.Errorf("grpc_health_probe -service dead: exit %d: %s", code, out)
	}

	// grpcurl by the composer's reflection.
	out, code := runTool(t, grpcurl, "-plaintext", addr, "list")
	for _, svc := range []string{"grpc.health.v1.Health", "shop.v1.Orders", "shop.v1.Users"} {
		if code != 0 || !strings.Contains(out, svc) {
			t.Errorf("grpcurl list: exit %d, %q lacks %s", code, out, svc)
		}
	}
	out, code = runTool(t, grpcurl, "-plaintext", "-d", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`, addr, "shop.v1.Users/CreateUser")
	if code != 0 || !strings.Contains(out, `"username": "ada"`) {
		t.Errorf("grpcurl CreateUser: exit %d: %s", code, out)
	}
	out, code = runTool(t, grpcurl, "-plaintext", "-d", `{"user_id":"1","items":[{"product_id":"book","quantity":1,"price":9.5}]}`, addr, "shop.v1.Orders/CreateOrder")
	if code != 0 || !strings.Contains(out, `"status": "Pending"`) {
		t.Errorf("grpcurl CreateOrder (orders asks users over gRPC): exit %d: %s", code, out)
	}
	if status, body := httpDo(t, "GET", b.gateway+"/users/1", ""); status != 200 || !strings.Contains(body, `"username":"ada"`) {
		t.Errorf("GET /users/1 after a CreateUser over gRPC: %d %s", status, body)
	}

	// Reflection routed to the instance: grpcurl sees its API.
	writePlatform(t, file, platform(`"/grpc.testing.TestService/*method", "/grpc.reflection.v1.ServerReflection/*method", "/grpc.reflection.v1alpha.ServerReflection/*method"`))
	waitFor(t, "reflection routed to testing", func() bool {
		out, _ := runTool(t, grpcurl, "-plaintext", addr, "list")
		return strings.Contains(out, "grpc.testing.TestService")
	})
	out, code = runTool(t, grpcurl, "-plaintext", "-d", `{"response_size": 3}`, addr, "grpc.testing.TestService/UnaryCall")
	if code != 0 || !strings.Contains(out, `"payload"`) {
		t.Errorf("grpcurl UnaryCall through the gateway: exit %d: %s", code, out)
	}
	b.stop(t)
}
