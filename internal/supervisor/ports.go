package supervisor

import "net"

// FreePort returns a loopback port that nobody listens on now (the
// kernel's choice). Another program could take it before the process
// does; the process then fails to listen, and is restarted by its policy.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
