package h1head

import "testing"

// A request's and an answer's header blocks as the gateway's benchmarks
// see them.
var (
	benchRequest = []byte("Host: 127.0.0.1:18003\r\nUser-Agent: fixedload/1\r\nAccept: */*\r\nX-Bench: 1\r\n")
	benchAnswer  = []byte("Content-Type: text/plain\r\nDate: Fri, 04 Dec 2026 01:49:09 GMT\r\nContent-Length: 13\r\n")
)

func BenchmarkFields(b *testing.B) {
	var store [8]string
	b.ReportAllocs()
	for b.Loop() {
		Fields(benchRequest, store[:])
		Fields(benchAnswer, store[:])
	}
}

func BenchmarkToken(b *testing.B) {
	names := []string{"User-Agent", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id", "Accept"}
	for b.Loop() {
		for _, n := range names {
			if !Token(n) {
				b.Fatal(n)
			}
		}
	}
}
