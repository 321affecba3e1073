package app

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// gitRepo makes a git repository of a copy of this repository's tree,
// committed, and returns it with a function running git in it.
func gitRepo(t *testing.T) (string, func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	root := copyTree(t)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false", "-c", "protocol.file.allow=always"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	return root, git
}

type jsonReport struct {
	A, B        string
	Differences []struct {
		Object, Status string
		Warnings       []struct{ Field, Message string }
	}
}

func TestDiffBaseEveryEnvironment(t *testing.T) {
	env := withChartCache(t)
	root, _ := gitRepo(t)
	// One change every environment shares: the Valkey goes, which its
	// Kustomization prunes with the cache's data.
	testutil.Edit(t, root, "gitops/apps/ghillie/data/kustomization.yaml", "  - valkey.yaml\n", "")
	r := run(t, env, "diff", "--repo", root, "--base", "HEAD", "-o", "json")
	if r.code != ExitFindings {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	var doc struct {
		Base    string
		Reports []jsonReport
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var envs []string
	for _, rep := range doc.Reports {
		envs = append(envs, rep.B)
		if rep.A != rep.B+"@HEAD" {
			t.Errorf("report %s compares %s", rep.B, rep.A)
		}
		if len(rep.Differences) != 1 || rep.Differences[0].Object != "hyperspike.io/Valkey/ghillie-valkey" || rep.Differences[0].Status != "only-in-a" {
			t.Errorf("%s: want only the Valkey removed, got %+v", rep.B, rep.Differences)
			continue
		}
		if w := rep.Differences[0].Warnings; len(w) != 1 || !strings.Contains(w[0].Message, "prune: true") || !strings.Contains(w[0].Message, "loses the cache's data") {
			t.Errorf("%s: the Valkey's deletion is not flagged: %+v", rep.B, w)
		}
	}
	if doc.Base != "HEAD" || strings.Join(envs, " ") != "ephemeral/pr-123 local production staging" {
		t.Errorf("base %q, environments %q: want HEAD and all four", doc.Base, envs)
	}

	r = run(t, env, "diff", "--repo", root, "--base", "HEAD")
	if !strings.Contains(r.stdout, "staging@HEAD → staging: 0 added, 1 removed, 0 changed; ⚠ 1\n") || !strings.Contains(r.stdout, "  - hyperspike.io/Valkey/ghillie-valkey\n    ⚠ deleted with prune: true by Kustomization flux-system/ghillie-data: loses the cache's data\n") {
		t.Errorf("text:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour when stdout is not a terminal:\n%q", r.stdout)
	}

	// Markdown for a pull-request comment, kept within its bound.
	r = run(t, env, "diff", "--repo", root, "--base", "HEAD", "-o", "markdown", "--markdown-limit", "1200")
	if r.code != ExitFindings || len(r.stdout) > 1200 {
		t.Fatalf("markdown: exit %d, %d bytes (limit 1200):\n%s", r.code, len(r.stdout), r.stdout)
	}
	for _, want := range []string{"| staging | 0 | 1 | 0 | 1 |", "<details><summary>⚠ <b>ephemeral/pr-123</b>", "cut to keep this comment under 1200 characters; run `gitops-local diff --base HEAD` to see everything"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := run(t, env, "validate", "--repo", root, "-o", "markdown"); r.code != ExitFailure {
		t.Errorf("validate -o markdown: exit %d", r.code)
	}
}

func TestDiffBaseBadRefs(t *testing.T) {
	env := withChartCache(t)
	root, git := gitRepo(t)
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "tag: sha-4f2c1e9", "tag: sha-0000000")
	git("commit", "-q", "-am", "second")

	r := run(t, env, "diff", "--repo", root, "--base", "no-such-ref")
	if r.code != ExitFailure || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, `"no-such-ref" is not a branch, tag or commit`) {
		t.Errorf("missing ref: exit %d, stderr %q", r.code, r.stderr)
	}

	shallow := filepath.Join(t.TempDir(), "shallow")
	git("clone", "-q", "--depth", "1", "file://"+root, shallow)
	r = run(t, env, "diff", "--repo", shallow, "--base", "HEAD~1")
	if r.code != ExitFailure || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, `"HEAD~1" is not in this shallow clone: fetch it, e.g. git fetch --depth=`) {
		t.Errorf("shallow clone: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(shallow, "overlays")); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "diff", "--repo", shallow, "--base", "HEAD", "staging")
	if r.code != ExitOK {
		t.Errorf("the commit a shallow clone has: exit %d, stderr %q", r.code, r.stderr)
	}
}
