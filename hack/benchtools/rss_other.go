//go:build !linux

package benchtools

import "os"

// maxRSS is not measured off Linux.
func maxRSS(*os.ProcessState) int64 { return 0 }
