// Package rawio reads and writes a TCP connection with raw system calls
// on its socket, for the request path's connections (h1server's clients,
// h1client's instances).
//
// net's Read and Write tell the scheduler around every call that the
// goroutine enters a system call that may block (entersyscall and
// exitsyscall), in case it must hand the thread's P to another. On a
// socket that is never the case: net opens its sockets non-blocking, and a
// read or write that cannot go on at once answers EAGAIN. That bookkeeping
// costs about a thousand instructions per call, and its first call after
// an idle spell wakes the runtime's monitor thread (sysmon), which then
// ticks every 20 µs for a millisecond on a proxy's busy CPU. Conn makes
// the same calls with syscall.RawSyscall inside syscall.RawConn's Read and
// Write, which wait for the poller on EAGAIN and keep the connection's
// deadlines: what a caller sees is what net.Conn's Read and Write give,
// errors included (*net.OpError).
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Conn is the raw reader and writer of one connection. One goroutine may
// read while another writes; reads (and writes) are not concurrent with
// one another, as for a bufio.Reader (Writer) over it.
type Conn struct {
	nc net.Conn
	rc syscall.RawConn

	rp     []byte // the read under way: its buffer, its count, its error
	rn     int
	rerr   error
	readFn func(fd uintptr) bool // rawRead, bound once

	wp      []byte // the write under way
	wn      int
	werr    error
	writeFn func(fd uintptr) bool // rawWrite, bound once
}

// New returns the raw reader and writer of nc, or nc itself (an io.ReadWriter
// as well) where raw calls are not supported: a connection that is not a
// socket of this system's, another system.
func New(nc net.Conn) io.ReadWriter {
	if !supported {
		return nc
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &Conn{nc: nc, rc: rc}
	c.readFn, c.writeFn = c.rawRead, c.rawWrite
	return c
}

// NetConn is nc with its Read and Write those of New(nc), for a layer
// over it that takes a net.Conn (crypto/tls); its other methods are nc's.
// It is nc itself where raw calls are not supported.
func NetConn(nc net.Conn) net.Conn {
	c, ok := New(nc).(*Conn)
	if !ok {
		return nc
	}
	return netConn{nc, c}
}

// netConn is a net.Conn read and written by its Conn.
type netConn struct {
	net.Conn
	raw *Conn
}

func (c netConn) Read(p []byte) (int, error)  { return c.raw.Read(p) }
func (c netConn) Write(p []byte) (int, error) { return c.raw.Write(p) }

func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.readFn)
	n, rerr := c.rn, c.rerr
	c.rp, c.rerr = nil, nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wp, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wp, c.werr = nil, nil
	switch {
	case werr != nil:
		return n, c.opError("write", os.NewSyscallError("write", werr))
	case err != nil:
		return n, c.opError("write", err)
	}
	return n, nil
}

// rawRead makes one read of c.rp, and reports whether it is done (false:
// EAGAIN, wait for the socket to be readable).
func (c *Conn) rawRead(fd uintptr) bool {
	for {
		n, errno := sysRead(fd, c.rp)
		switch errno {
		case 0:
			c.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = errno
		return true
	}
}

// rawWrite writes what is left of c.wp, and reports whether it is done
// (false: EAGAIN, wait for the socket to be writable).
func (c *Conn) rawWrite(fd uintptr) bool {
	for c.wn < len(c.wp) {
		n, errno := sysWrite(fd, c.wp[c.wn:])
		switch errno {
		case 0:
			c.wn += n
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.werr = errno
		return true
	}
	return true
}

// opError wraps err as net's conn wraps its errors.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.nc.LocalAddr().Network(), Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: err}
}
