// Command idleconns opens n kept-alive HTTP/1.1 connections to an
// address, sends one request on each, reads the answers, and holds them
// open (idle) until it is killed: how much memory a proxy needs per idle
// client connection (scripts/bench-memory.sh).
//
//	idleconns -addr 127.0.0.1:18003 -n 1000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18003", "the proxy")
	n := flag.Int("n", 1000, "connections")
	flag.Parse()
	var conns []net.Conn
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", *addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		conns = append(conns, c)
	}
	fmt.Fprintf(os.Stdout, "%d connections open and idle\n", len(conns))
	select {}
}
