package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair is a connected pair of loopback TCP connections.
func pair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func raw(t *testing.T, nc net.Conn) io.ReadWriter {
	t.Helper()
	rw := New(nc)
	if _, ok := rw.(*Conn); !ok && supported {
		t.Fatalf("New(%T) = %T, want a *Conn", nc, rw)
	}
	return rw
}

// What a Conn reads and writes, and its errors, are what net.Conn's Read
// and Write give: data both ways (a write larger than the socket's
// buffers waits for the reader), io.EOF at the end, a timeout at a
// deadline, net.ErrClosed once closed, a reset as ECONNRESET, each error
// a *net.OpError but io.EOF.
func TestReadsAndWritesAsNet(t *testing.T) {
	client, server := pair(t)
	rc, rs := raw(t, client), raw(t, server)

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than the buffers hold
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(big))
		_, err := io.ReadFull(rs, b)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if n, err := rc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatal("the big write arrived changed")
	}
	if n, err := rc.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty Write: %d, %v", n, err)
	}

	// A deadline: a timeout, as net's.
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := rs.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "read" {
		t.Fatalf("read past the deadline: %T %v, want a *net.OpError", err, err)
	}
	server.SetReadDeadline(time.Time{})

	// Data, then the end.
	io.WriteString(client, "tail")
	b := make([]byte, 8)
	if n, err := rs.Read(b); string(b[:n]) != "tail" || err != nil {
		t.Fatalf("Read: %q, %v", b[:n], err)
	}
	client.(*net.TCPConn).CloseWrite()
	if n, err := rs.Read(b); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end: %d, %v, want io.EOF", n, err)
	}

	// Closed: net.ErrClosed.
	server.Close()
	if _, err := rs.Read(b); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed connection: %v", err)
	}
	if _, err := rs.Write(b); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write of a closed connection: %v", err)
	}
}

func TestResetIsECONNRESET(t *testing.T) {
	client, server := pair(t)
	rc := raw(t, client)
	server.(*net.TCPConn).SetLinger(0) // close with a reset
	server.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := rc.Read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after a reset: %v, want ECONNRESET", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("Read after a reset: %T, want a *net.OpError", err)
	}
}

// A connection that is not a socket is read and written as it is.
func TestNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if rw := New(a); rw != io.ReadWriter(a) {
		t.Fatalf("New(net.Pipe) = %T, want the pipe", rw)
	}
}

// NetConn is a net.Conn read and written by raw calls where they are
// supported (its deadlines nc's), and nc itself where they are not.
func TestNetConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if nc := NetConn(a); nc != a {
		t.Fatalf("NetConn(net.Pipe) = %T, want the pipe", nc)
	}
	client, server := pair(t)
	nc := NetConn(client)
	if supported {
		if _, ok := nc.(netConn); !ok {
			t.Fatalf("NetConn(a TCP connection) = %T, want its raw calls", nc)
		}
	}
	go server.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("Read: %q %v", buf, err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := nc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	nc.SetReadDeadline(time.Time{})
	if _, err := nc.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("the peer read %q %v", buf, err)
	}
}
