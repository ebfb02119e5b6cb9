//go:build !unix

package h1client

import "net"

// stillOpen cannot look without reading elsewhere: a connection is taken
// to be open, and a closed one gives the call an error.
func stillOpen(net.Conn) bool { return true }

func isConnReset(error) bool { return false }
