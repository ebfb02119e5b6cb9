package runner

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// streams is grpc-go's interop test service, with the streams this test
// uses: a client stream that sums sizes, a bidirectional echo, and an
// error after data.
type streams struct {
	testpb.UnimplementedTestServiceServer
}

func (streams) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(req.GetPayload().GetBody())
	}
}

func (streams) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetResponseStatus().GetCode() != 0 { // an error after data
			return status.Error(codes.Code(req.GetResponseStatus().GetCode()), req.GetResponseStatus().GetMessage())
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

// TestGRPCStreams: client and bidirectional streams through the gateway,
// an error sent after data, and 100 concurrent streams on one
// connection.
func TestGRPCStreams(t *testing.T) {
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, streams{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	_, conn := grpcPlatform(t, srv, "tests", "/grpc.testing.TestService/*method")
	client := testpb.NewTestServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	in, err := client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 5, 7} {
		if err := in.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
			t.Fatal(err)
		}
	}
	if resp, err := in.CloseAndRecv(); err != nil || resp.AggregatedPayloadSize != 15 {
		t.Fatalf("client stream: %v %v", resp, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			duplex, err := client.FullDuplexCall(ctx)
			if err != nil {
				errs <- err
				return
			}
			for j := range 3 {
				msg := fmt.Sprintf("%d.%d", i, j)
				if err := duplex.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
					errs <- err
					return
				}
				got, err := duplex.Recv()
				if err != nil || string(got.GetPayload().GetBody()) != msg {
					errs <- fmt.Errorf("echo of %s: %v %v", msg, got, err)
					return
				}
			}
			// An error after data keeps its code and message.
			duplex.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "not now"}})
			// The server ends the stream while the client still sends.
			_, err = duplex.Recv()
			if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || st.Message() != "not now" {
				errs <- fmt.Errorf("error after data: %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
