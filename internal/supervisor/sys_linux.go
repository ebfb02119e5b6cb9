package supervisor

import "syscall"

// sysProcAttr puts the process in its own group (so that a stop reaches
// what it started) and has the kernel kill it when the composer dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
