package up_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/reconcile"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

const probe = `apiVersion: v1
kind: ConfigMap
metadata:
  name: sync-probe
  namespace: flux-system
data:
  value: "%s"
`

// TestSyncStreamsChanges adds, changes and removes a ConfigMap in the local
// overlay and changes a value of the app's HelmRelease, syncing after each
// step, and checks that sync reports what Flux did: the objects each
// Kustomization created, configured and deleted, and the app's upgrade.
func TestSyncStreamsChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root := copyRepo(t)
	s := newStack(ctx, t, root)
	if _, out, err := s.up(ctx, t); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	writeProbe := func(v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "overlays", "local", "sync-probe.yaml"), []byte(strings.Replace(probe, "%s", v, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string, want ...string) {
		t.Helper()
		sum, out, err := s.sync(ctx, t)
		if err != nil {
			t.Fatalf("%s: sync: %v\n%s", name, err, out)
		}
		var applied []string
		for _, ch := range sum.Applied {
			applied = append(applied, ch.By.String()+": "+ch.String())
		}
		for _, w := range want {
			n := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "  • "+w) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: sync reported %q %d times, want once; it reported:\n%s", name, w, n, out)
			}
		}
		t.Logf("%s: %d changes reported: %s", name, len(applied), strings.Join(applied, "; "))
	}

	writeProbe("one")
	testutil.Edit(t, root, "overlays/local/kustomization.yaml", "  - ghillie.yaml", "  - ghillie.yaml\n  - sync-probe.yaml")
	step("add a ConfigMap", "Kustomization/flux-system/flux-system: ConfigMap/flux-system/sync-probe created")

	writeProbe("two")
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "GHILLIE_LOG_LEVEL: DEBUG", "GHILLIE_LOG_LEVEL: WARNING")
	step("change it and a HelmRelease value",
		"Kustomization/flux-system/flux-system: ConfigMap/flux-system/sync-probe configured",
		"Kustomization/flux-system/flux-system: Kustomization/flux-system/ghillie-app configured",
		"Kustomization/flux-system/ghillie-app: HelmRelease/ghillie/ghillie configured",
		"HelmRelease/ghillie/ghillie: HelmRelease/ghillie/ghillie "+reconcile.Upgraded+" (release v2, chart ghillie")

	if err := os.Remove(filepath.Join(root, "overlays", "local", "sync-probe.yaml")); err != nil {
		t.Fatal(err)
	}
	testutil.Edit(t, root, "overlays/local/kustomization.yaml", "\n  - sync-probe.yaml", "")
	step("remove it", "Kustomization/flux-system/flux-system: ConfigMap/flux-system/sync-probe deleted")
}
