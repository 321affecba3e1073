package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/parity"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

func TestParityHoldsForThisRepository(t *testing.T) {
	env := withChartCache(t)
	r := run(t, env, "parity", "--repo", repoRoot)
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "" || !strings.Contains(r.stderr, "local differs from ephemeral/pr-123 only as overlays/local/parity.yaml declares") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestParityFailsOnDriftAndOnStaleDeclarations(t *testing.T) {
	env := withChartCache(t)

	// Drift: local gets a service port the cloud does not have.
	root := copyTree(t)
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "            replicaCount: 1\n", "            replicaCount: 1\n            service:\n              port: 9090\n")
	r := run(t, env, "parity", "--repo", root, "ephemeral/pr-123")
	if r.code != ExitFindings {
		t.Fatalf("drift: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, ExitFindings, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"undeclared: helm.toolkit.fluxcd.io/HelmRelease/ghillie: spec.values.service.port: 9090 → 8080",
		"undeclared: Service/ghillie: spec.ports[0].port: 9090 → 8080",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "stale:") {
		t.Errorf("an added difference made a declaration stale:\n%s", r.stdout)
	}
	// diff shows the drift in full and the intended fields of the same
	// object only as a count.
	r = run(t, env, "diff", "--repo", root, "local", "ephemeral/pr-123")
	for _, want := range []string{
		"  ~ helm.toolkit.fluxcd.io/HelmRelease/ghillie (1 field, 17 intended)\n      - spec.values.service.port: 9090\n      + spec.values.service.port: 8080\n",
		"  ~ Service/ghillie (1 field)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "spec.values.image.tag") || strings.Contains(r.stdout, "all intended") {
		t.Errorf("diff shows intended fields, or calls drift intended:\n%s", r.stdout)
	}

	// Stale: local's database gets the cloud's size, so the declaration
	// of that difference matches nothing.
	root = copyTree(t)
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "size: 512Mi", "size: 1Gi")
	r = run(t, env, "parity", "--repo", root, "-o", "json")
	if r.code != ExitFindings {
		t.Fatalf("stale: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, ExitFindings, r.stdout, r.stderr)
	}
	var res parity.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if len(res.Undeclared) != 0 || len(res.Stale) != 1 || res.Stale[0].Field != "spec.storage.size" {
		t.Errorf("want the storage size declaration stale and nothing else, got %+v", res)
	}
}

func TestParityBadInput(t *testing.T) {
	env := withChartCache(t)
	root := copyTree(t)
	testutil.Edit(t, root, parity.File, "        field: spec.storage.size\n", "        field: spec.storage.size\n        namespace: ghillie\n")
	r := run(t, env, "parity", "--repo", root)
	if r.code != ExitFailure || !strings.Contains(r.stderr, parity.File) || !strings.Contains(r.stderr, `unknown field "namespace"`) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("unknown field: exit %d, stderr %q", r.code, r.stderr)
	}

	r = run(t, env, "parity", "--repo", repoRoot, "staging")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "declares no differences with staging") {
		t.Errorf("undeclared environment: exit %d, stderr %q", r.code, r.stderr)
	}

	if err := os.Remove(filepath.Join(root, filepath.FromSlash(parity.File))); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "parity", "--repo", root)
	if r.code != ExitFailure || !strings.Contains(r.stderr, parity.File) {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
	// validate warns about the missing contract without failing.
	r = run(t, env, "validate", "--repo", root, "local")
	if r.code != ExitOK || !strings.Contains(r.stderr, "! "+parity.File+" is missing") {
		t.Errorf("validate without a parity file: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, "validate", "--repo", repoRoot, "local")
	if r.code != ExitOK || strings.Contains(r.stderr, "is missing") {
		t.Errorf("validate with a parity file: exit %d, stderr %q", r.code, r.stderr)
	}
}
