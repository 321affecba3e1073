package render

import "syscall"

// childProcAttr puts the render process in its own process group, so that
// a Ctrl-C at the console reaches only the CLI, which stops its renders
// itself. Without a parent-death signal, the render process ends itself
// shortly after its deadline (see serveChild).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// limitMemory does nothing here: watchMemory alone bounds the memory.
func limitMemory(int64) {}
