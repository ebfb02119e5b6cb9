package rawio

import (
	"io"
	"net"
	"testing"
)

// BenchmarkPingPong: a 64-byte exchange each way over loopback, read and
// written by net.Conn and by Conn, side by side (the request path's
// shape: a write, then a read that waits for the answer).
func BenchmarkPingPong(b *testing.B) {
	for _, c := range []struct {
		name string
		wrap func(net.Conn) io.ReadWriter
	}{{"net", func(nc net.Conn) io.ReadWriter { return nc }}, {"raw", New}} {
		b.Run(c.name, func(b *testing.B) {
			client, server := pair(b)
			go func() {
				rw := c.wrap(server)
				buf := make([]byte, 64)
				for {
					if _, err := io.ReadFull(rw, buf); err != nil {
						return
					}
					if _, err := rw.Write(buf); err != nil {
						return
					}
				}
			}()
			rw := c.wrap(client)
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rw.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rw, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
