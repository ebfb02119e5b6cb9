//go:build unix

package h1client

import (
	"errors"
	"net"
	"syscall"
)

// stillOpen says whether the host has not closed an idle connection: a
// peek that does not wait finds neither an end nor an error. (An idle
// connection has nothing to read; anything there is a protocol error, and
// the connection is not used either.)
func stillOpen(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && open
}

// isConnReset says whether err is the host resetting or having closed the
// connection.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
