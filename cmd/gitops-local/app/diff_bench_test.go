package app

import (
	"os"
	"os/exec"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// benchRepo is a git repository of this repository's tree with one line
// changed since its commit (a log level every environment shares), and the
// chart cache to read.
func benchRepo(b *testing.B) (string, map[string]string) {
	b.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("needs git")
	}
	env := map[string]string{chartcache.EnvDir: os.Getenv(chartcache.EnvDir)}
	if env[chartcache.EnvDir] == "" {
		env[chartcache.EnvDir] = testutil.ChartCache(b, repoRoot, false).Dir()
	}
	root := testutil.CopyRepo(b, repoRoot)
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "base"}} {
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.email=b@example.com", "-c", "user.name=b", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	testutil.Edit(b, root, "gitops/apps/ghillie/app/helmrelease.yaml", "GHILLIE_LOG_LEVEL: INFO", "GHILLIE_LOG_LEVEL: WARNING")
	return root, env
}

// BenchmarkDiffBaseAllEnvironments times diff --base over every
// environment for a one-line change; compare with
// BenchmarkValidateAllEnvironments (the target: at most twice as long).
func BenchmarkDiffBaseAllEnvironments(b *testing.B) {
	root, env := benchRepo(b)
	for b.Loop() {
		if r := run(b, env, "diff", "--repo", root, "--base", "HEAD"); r.code != ExitFindings {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
}

// BenchmarkValidateAllEnvironments times validate of every environment of
// the same tree.
func BenchmarkValidateAllEnvironments(b *testing.B) {
	root, env := benchRepo(b)
	for b.Loop() {
		if r := run(b, env, "validate", "--repo", root); r.code != ExitOK {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
}
