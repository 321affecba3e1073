package controlplane

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it when the parent dies, so that a test binary that is killed or
// times out leaves no control plane behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
