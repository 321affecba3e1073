package gitops

import (
	"reflect"
	"slices"
	"testing"
)

// TestRunKeyCoversEveryOption fails when Options gains a field RunKey
// does not know about: each field is hashed, or does not change what a
// build gives.
func TestRunKeyCoversEveryOption(t *testing.T) {
	known := []string{
		"Offline", "ChartCache", "Vars", "Sources", "Revisions", "Fixtures", "RenderLimits", // hashed
		"Renders", "Results", // only make a build faster
	}
	ty := reflect.TypeFor[Options]()
	for i := range ty.NumField() {
		if name := ty.Field(i).Name; !slices.Contains(known, name) {
			t.Errorf("Options.%s: hash it in RunKey, or say here why it does not change what a build gives", name)
		}
	}
}
