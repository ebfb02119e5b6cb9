//go:build soak

package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// TestSoakGRPCStream (make soak; not in make test): one bidirectional
// stream through the gateway for SOAK_DURATION (default 3m), a message a
// second each way, across two reloads of the platform: it is never cut,
// and every message comes back in order.
func TestSoakGRPCStream(t *testing.T) {
	duration := 3 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		duration = d
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	testpb.RegisterTestServiceServer(srv, streams{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Stop()
	// stream_idle_timeout would cut a silent stream, timeout a unary
	// call: neither touches a stream that talks.
	extra := fmt.Sprintf("[services]\nsoak { kind: \"http\", protocol: \"grpc\", instances: [\"http://%s\"], routes: [\"/grpc.testing.TestService/*method\"], timeout: \"2s\", stream_idle_timeout: \"10s\" }\n", ln.Addr())
	p := startPlatform(t, extra)
	waitHealthy(t, p, "soak")
	conn, err := grpc.NewClient(p.r.GatewayAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), duration+time.Minute)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	reloads := 0
	for i := 0; time.Since(start) < duration; i++ {
		body := fmt.Sprintf("message %d", i)
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			t.Fatalf("after %s, send %d: %v", time.Since(start).Round(time.Second), i, err)
		}
		got, err := stream.Recv()
		if err != nil || string(got.GetPayload().GetBody()) != body {
			t.Fatalf("after %s, message %d: %v %v", time.Since(start).Round(time.Second), i, got, err)
		}
		if elapsed := time.Since(start); reloads < 2 && elapsed > time.Duration(reloads+1)*duration/3 {
			reloads++
			p.rewrite(t, extra+fmt.Sprintf("extra%d { kind: \"http\", instances: [\"http://127.0.0.1:1\"] }\n", reloads))
			if res := p.r.Reload(); !res.OK || !res.Changed {
				t.Fatalf("reload %d: %+v", reloads, res)
			}
		}
		time.Sleep(time.Second)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("a message after the end")
	}
	t.Logf("one stream for %s across %d reloads, not cut", time.Since(start).Round(time.Second), reloads)
}
