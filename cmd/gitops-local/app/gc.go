package app

import (
	"os"
	"runtime/debug"
)

// batchGCPercent is the garbage collector's target for the short one-shot
// commands (build, validate, diff).
const batchGCPercent = 400

// batchGC lets a short one-shot command trade memory for time. Such a run
// builds every environment, renders every chart and throws it all away
// within a second; collecting at Go's default pace (GOGC=100) costs about a
// fifth of its wall time, and GOGC=400 raises its peak memory by about a
// sixth. A GOGC the user set wins. Long-running commands (up, watch) keep
// the default.
func batchGC() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(batchGCPercent)
}
