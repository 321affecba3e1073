//go:build unix && !linux

package controlplane

import "syscall"

// sysProcAttr puts the child in its own process group. Only Linux can have
// the kernel kill it when the parent dies; elsewhere Stop must run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
