//go:build linux

package gitops

import (
	"fmt"
	"io/fs"
	"syscall"
)

// fileIdentity is what, besides size and modification time, changes when
// a file is rewritten: its inode and status-change time, which no tool
// sets back.
func fileIdentity(info fs.FileInfo) string {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d %d %d %d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}
