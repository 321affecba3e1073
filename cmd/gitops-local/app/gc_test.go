package app

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestBatchGCRaisesTheTargetUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	batchGC()
	if got := debug.SetGCPercent(100); got != batchGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, batchGCPercent)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // as the runtime read it at start
	batchGC()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("with GOGC=150: GC percent %d, want the user's 150 kept", got)
	}
}
