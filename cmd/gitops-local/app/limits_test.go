package app

import (
	"strings"
	"testing"
	"time"
)

// A chart that renders for ever is a finding on its HelmRelease once
// --render-timeout has passed; validate then finishes as usual.
func TestValidateReportsRenderTimeout(t *testing.T) {
	root := loopingRepo(t)
	r := runBounded(t, map[string]string{"GITOPS_LOCAL_CHART_CACHE": t.TempDir()}, time.Minute, "validate", "--repo", root, "--render-timeout", "1s")
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, ExitFindings, r.stderr)
	}
	var found bool
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "overlays/test/release.yaml:") && strings.Contains(line, "HelmRelease/team/loop:") && strings.Contains(line, "within 1s") {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding on HelmRelease/team/loop saying it did not render within 1s:\n%s", r.stdout)
	}
}

// A chart writing gigabytes is a finding on its HelmRelease; validate
// finishes as usual and removes its working copy.
func TestValidateReportsRenderPastMemory(t *testing.T) {
	root := hostileRepoWith(t, `{{ $s := repeat 1048576 "x" }}{{ range until 102400 }}{{ $s }}{{ end }}`)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := runBounded(t, map[string]string{"GITOPS_LOCAL_CHART_CACHE": t.TempDir()}, time.Minute, "validate", "--repo", root)
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, ExitFindings, r.stderr)
	}
	if !strings.Contains(r.stdout, "HelmRelease/team/loop: chart loop 0.1.0") || !strings.Contains(r.stdout, "does not render") || !strings.Contains(r.stdout, "of memory") {
		t.Errorf("no finding on HelmRelease/team/loop saying it used too much memory:\n%s", r.stdout)
	}
	assertEmptyDir(t, tmp)
}

func TestRenderTimeoutMustBePositive(t *testing.T) {
	for _, args := range [][]string{{"validate"}, {"build", "local"}, {"diff", "local", "staging"}, {"sync"}, {"up"}} {
		r := run(t, nil, append(args, "--repo", repoRoot, "--render-timeout", "0s")...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "invalid --render-timeout 0s") {
			t.Errorf("%v --render-timeout 0s: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
