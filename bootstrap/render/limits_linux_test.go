package render

import (
	"syscall"
	"testing"
)

// assertMemoryBounded checks, after a render stopped by its memory bound,
// that neither the render process nor this one grew past the bound (with
// room for the binary itself): maximum resident sizes, which Linux reports
// in KiB, of the largest child waited for and of this process.
func assertMemoryBounded(t *testing.T, limit int64) {
	t.Helper()
	const slack = 384 << 20 // the binary's pages and the runtime's own
	for _, who := range []struct {
		name string
		id   int
	}{{"render process", syscall.RUSAGE_CHILDREN}, {"test process", syscall.RUSAGE_SELF}} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who.id, &ru); err != nil {
			t.Fatalf("getrusage: %v", err)
		}
		peak := ru.Maxrss << 10
		t.Logf("%s peak resident size: %d MiB", who.name, peak>>20)
		if peak > limit+slack {
			t.Errorf("%s peaked at %d MiB, past the %d MiB bound and %d MiB of slack", who.name, peak>>20, limit>>20, slack>>20)
		}
	}
}
