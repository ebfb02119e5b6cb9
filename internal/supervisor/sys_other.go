//go:build !linux

package supervisor

import "syscall"

// sysProcAttr puts the process in its own group. (Only Linux has a
// parent-death signal: elsewhere a composer killed with SIGKILL leaves its
// processes running.)
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
