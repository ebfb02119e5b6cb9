package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"

	"github.com/tuskcompose/composer/internal/balancer"
)

// GRPCProbe returns a probe that asks an instance's gRPC health service
// (grpc.health.v1.Health/Check, for the service named service, "" for the
// server as a whole) over client, which must speak HTTP/2 (h2c for
// http:// instances). It passes when the call's grpc-status is 0 and the
// answer says SERVING. The messages are small enough to be written and
// read here, without generated code.
func GRPCProbe(client *http.Client, service string) Probe {
	// HealthCheckRequest{service}: field 1, bytes.
	var msg []byte
	if service != "" {
		msg = append(binary.AppendUvarint([]byte{0x0a}, uint64(len(service))), service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	return func(ctx context.Context, in *balancer.Instance) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.Address+"/grpc.health.v1.Health/Check", bytes.NewReader(frame))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		if err != nil {
			return err
		}
		status := resp.Trailer.Get("Grpc-Status")
		if status == "" {
			status = resp.Header.Get("Grpc-Status") // a trailers-only answer
		}
		if resp.StatusCode != http.StatusOK || status != "0" {
			return fmt.Errorf("%s: grpc health check answered HTTP %d, grpc-status %q %s", in.Address, resp.StatusCode, status,
				resp.Trailer.Get("Grpc-Message"))
		}
		// HealthCheckResponse{status}: field 1, varint; SERVING is 1.
		if len(body) < 5 || !bytes.Contains(body[5:], []byte{0x08, 0x01}) {
			return fmt.Errorf("%s: not SERVING", in.Address)
		}
		return nil
	}
}
