package render

import (
	"syscall"
)

// childProcAttr puts the render process in its own process group, so that
// a Ctrl-C at the terminal reaches only the CLI, which stops its renders
// itself, and has the kernel kill it when the CLI dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// limitMemory caps the process's data segment, which on Linux counts the
// heap the Go runtime maps: an allocation past it fails at once, and the
// runtime reports "out of memory", however fast the heap grows. The cap
// leaves room above limit for the binary's own data: watchMemory stops
// gradual growth at limit.
func limitMemory(limit int64) {
	capBytes := uint64(limit) + 256<<20
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: capBytes, Max: capBytes})
}
