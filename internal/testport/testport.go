// Package testport gives tests a free loopback port to hand to a program
// that binds it later (a process on a fixed port, a broker restarted on
// its port). It picks one outside Linux's ephemeral range (32768-60999),
// so that the ports the kernel hands out for other tests' listeners and
// connections, meanwhile, cannot take it.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Free returns a loopback port that was free when asked, in 20000-32767.
func Free(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12768)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free loopback port in 20000-32767")
	return 0
}
