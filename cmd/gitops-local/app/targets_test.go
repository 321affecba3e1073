package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// repos copies two layouts of the conformance suite's cases into a new
// folder: bootstrap (a flux bootstrap repository), tenants (a multi-tenant
// one) and team-a (its tenant's repository).
func repos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cases := filepath.Join(repoRoot, "bootstrap/internal/conformance/testdata/cases")
	testutil.CopyTree(t, filepath.Join(cases, "bootstrap-layout/repo"), filepath.Join(dir, "bootstrap"))
	testutil.CopyTree(t, filepath.Join(cases, "multi-tenant/repo"), filepath.Join(dir, "tenants"))
	testutil.CopyTree(t, filepath.Join(cases, "multi-tenant/team-a"), filepath.Join(dir, "team-a"))
	return dir
}

// emptyCache is a chart cache with nothing in it: these repositories
// render no chart from one.
func emptyCache(t *testing.T) map[string]string {
	return map[string]string{chartcache.EnvDir: t.TempDir()}
}

func TestValidateAndBuildAnyFluxRepository(t *testing.T) {
	dir := repos(t)
	env := emptyCache(t)
	fleet := filepath.Join(dir, "bootstrap")

	r := run(t, env, "validate", "--repo", fleet, "--path", "clusters/staging")
	if r.code != ExitOK {
		t.Fatalf("validate --path: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 environment valid (clusters/staging)") {
		t.Errorf("stderr: %q", r.stderr)
	}

	r = run(t, env, "build", "--repo", fleet, "--path", "./clusters/staging/")
	if r.code != ExitOK {
		t.Fatalf("build --path: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"kind: GitRepository", "name: podinfo", "replicas: 2", "name: staging"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("build output lacks %q", want)
		}
	}

	r = run(t, env, "diff", "--repo", fleet, "--path", "clusters/staging", "--path", "clusters/staging")
	if r.code != ExitOK {
		t.Errorf("diff of a path with itself: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
}

func TestValidateMapsOtherSources(t *testing.T) {
	dir := repos(t)
	env := emptyCache(t)
	platform := filepath.Join(dir, "tenants")

	r := run(t, env, "validate", "--repo", platform, "--path", "clusters/production")
	if r.code != ExitFindings || !strings.Contains(r.stdout, "--source GitRepository/team-a/team-a=DIR") {
		t.Fatalf("unmapped tenant: exit %d, want %d and a finding naming --source\nstdout:\n%s\nstderr:\n%s", r.code, ExitFindings, r.stdout, r.stderr)
	}

	r = run(t, env, "validate", "--repo", platform, "--path", "clusters/production",
		"--source", "GitRepository/team-a/team-a="+filepath.Join(dir, "team-a"))
	if r.code != ExitOK {
		t.Fatalf("mapped tenant: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// Bad targets exit 2 with one line saying what is wrong.
func TestTargetFlagsRefuseBadInput(t *testing.T) {
	dir := repos(t)
	env := emptyCache(t)
	fleet := filepath.Join(dir, "bootstrap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--repo", fleet, "--path", "../tenants"}, "outside the repository"},
		{[]string{"validate", "--repo", fleet, "--path", "clusters/nowhere"}, "no such folder"},
		{[]string{"validate", "--repo", fleet, "--path", "clusters/staging", "--source", "GitRepository/x"}, "want KIND/NAMESPACE/NAME=DIR"},
		{[]string{"validate", "--repo", fleet, "--path", "clusters/staging", "--source", "GitRepository/a/b=" + filepath.Join(dir, "nowhere")}, "does not exist"},
		{[]string{"validate", "--repo", fleet, "--path", "clusters/staging", "local"}, "not both"},
		{[]string{"build", "--repo", fleet, "--path", "clusters/staging", "--path", "clusters/staging"}, "one --path"},
		{[]string{"diff", "--repo", fleet, "--path", "clusters/staging"}, "two --path"},
		{[]string{"validate", "--repo", filepath.Join(dir, "nowhere"), "--path", "clusters/staging"}, "not a folder"},
	} {
		r := run(t, env, tc.args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tc.args, r.code, r.stderr, ExitFailure, tc.want)
		}
	}
}
