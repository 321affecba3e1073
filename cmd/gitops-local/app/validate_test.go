package app

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// repoRoot is this repository, seen from this package.
const repoRoot = "../../.."

// withChartCache points the chart cache at GITOPS_LOCAL_CHART_CACHE when
// set, else at a temporary cache seeded with the upstream archives.
func withChartCache(t *testing.T) map[string]string {
	t.Helper()
	if dir := os.Getenv(chartcache.EnvDir); dir != "" {
		return map[string]string{chartcache.EnvDir: dir}
	}
	return map[string]string{chartcache.EnvDir: testutil.ChartCache(t, repoRoot, false).Dir()}
}

// copyTree copies the published tree of the repository into a new folder.
func copyTree(t *testing.T) string {
	t.Helper()
	return testutil.CopyRepo(t, repoRoot)
}

func TestValidateCleanRepository(t *testing.T) {
	env := withChartCache(t)
	r := run(t, env, "validate", "--repo", repoRoot)
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "environments valid") {
		t.Errorf("no summary on stderr: %q", r.stderr)
	}
}

func TestValidateReportsFindings(t *testing.T) {
	env := withChartCache(t)
	root := copyTree(t)
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "tag: sha-4f2c1e9", "tag: latest")
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "    - name: platform-secret-store\n", "    - name: platform-secret-stor\n")

	r := run(t, env, "validate", "--repo", root, "staging")
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, ExitFindings, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Errorf("want one line per finding (2), got:\n%s", r.stdout)
	}
	for _, want := range []string{
		"charts/ghillie/templates/deployment.yaml",
		`mutable image reference "ghcr.io/leynos/ghillie:latest"`,
		"overlays/staging/ghillie.yaml",
		"Kustomization flux-system/platform-secret-stor",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "2 findings in 1 environment") || strings.Contains(r.stderr, "exit status") {
		t.Errorf("stderr: %q", r.stderr)
	}

	r = run(t, env, "validate", "--repo", root, "-o", "json", "staging")
	if r.code != ExitFindings {
		t.Fatalf("-o json: exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Environments []string           `json:"environments"`
		Findings     []manifest.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if len(doc.Environments) != 1 || doc.Environments[0] != "staging" || len(doc.Findings) != 2 {
		t.Errorf("json: %+v", doc)
	}
	for _, f := range doc.Findings {
		if f.File == "" || f.Object == "" || f.Field == "" || f.Environment != "staging" {
			t.Errorf("finding lacks file, object, field or environment: %+v", f)
		}
	}
}

func TestValidateFailures(t *testing.T) {
	env := withChartCache(t)
	r := run(t, env, "validate", "--repo", repoRoot, "nowhere")
	if r.code != ExitFailure || !strings.Contains(r.stderr, `unknown environment "nowhere"`) {
		t.Errorf("unknown environment: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, "validate", "--repo", t.TempDir())
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no overlays/ directory") {
		t.Errorf("not a repository: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDiffEnvironments(t *testing.T) {
	env := withChartCache(t)
	r := run(t, env, "diff", "--repo", repoRoot, "local", "local")
	if r.code != ExitOK || r.stdout != "local → local: no differences\n" {
		t.Fatalf("local vs local: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// The parity file declares every difference: the report names them as
	// intended, summarised, and fits on one screen.
	r = run(t, env, "diff", "--repo", repoRoot, "local", "ephemeral/pr-123")
	if r.code != ExitFindings {
		t.Fatalf("local vs pr-123: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"local → ephemeral/pr-123: 159 added, 3 removed, 11 changed; all intended",
		"Intended (overlays/local/parity.yaml):",
		"  platform services local leaves out (traefik): 39 objects only in ephemeral/pr-123",
		"  app namespace named after the preview: 1 object only in ephemeral/pr-123, 1 object only in local",
		"  apps/Deployment/ghillie spec.template.spec.containers[0].image: ghillie:local → ghcr.io/leynos/ghillie:sha-4f2c1e9",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "\n"); n > 40 {
		t.Errorf("%d lines do not fit on one screen:\n%s", n, r.stdout)
	}
	r = run(t, env, "diff", "--repo", repoRoot, "--full", "local", "ephemeral/pr-123")
	for _, want := range []string{
		"  - Namespace/ghillie",
		"  + Namespace/pr-123",
		"Kustomization flux-system/pr-123-ghillie-app, HelmRelease pr-123/ghillie:\n",
		"  + external-secrets.io/ExternalSecret/ghillie",
		"  ~ apps/Deployment/ghillie (0 fields, 6 intended)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--full: stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, env, "diff", "--repo", repoRoot, "-o", "json", "local", "ephemeral/pr-123")
	var doc struct {
		A, B        string
		Differences []struct {
			Object, Status string
			Fields         []struct{ Path string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.A != "local" || doc.B != "ephemeral/pr-123" || len(doc.Differences) == 0 {
		t.Fatalf("json: %v %+v\n%s", err, doc, r.stdout)
	}
}

func TestDiffBase(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	env := withChartCache(t)
	root := copyTree(t)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")

	r := run(t, env, "diff", "--repo", root, "staging", "--base", "HEAD")
	if r.code != ExitOK {
		t.Fatalf("unchanged tree: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "tag: sha-4f2c1e9", "tag: sha-0000000")
	r = run(t, env, "diff", "--repo", root, "staging", "--base", "HEAD")
	if r.code != ExitFindings {
		t.Fatalf("changed tag: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"staging@HEAD → staging: 0 added, 0 removed, 3 changed",
		"Kustomization flux-system/ghillie-app:\n  ~ helm.toolkit.fluxcd.io/HelmRelease/ghillie (1 field)\n      - spec.values.image.tag: \"sha-4f2c1e9\"\n      + spec.values.image.tag: \"sha-0000000\"\n",
		"the environment's root:\n  ~ kustomize.toolkit.fluxcd.io/Kustomization/ghillie-app (1 field)\n      ~ spec.patches[0].patch:\n",
		"        -      tag: sha-4f2c1e9\n        +      tag: sha-0000000\n",
		"  ~ apps/Deployment/ghillie (1 field)",
		"      - spec.template.spec.containers[0].image: \"ghcr.io/leynos/ghillie:sha-4f2c1e9\"",
		"      + spec.template.spec.containers[0].image: \"ghcr.io/leynos/ghillie:sha-0000000\"",
		"  apps/Deployment/ghillie spec.template.spec.containers[0].image: ghcr.io/leynos/ghillie:sha-4f2c1e9 → ghcr.io/leynos/ghillie:sha-0000000",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, env, "diff", "--repo", root, "staging", "--base", "no-such-ref")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no-such-ref") {
		t.Errorf("bad ref: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDiffArguments(t *testing.T) {
	for _, args := range [][]string{{"diff", "local"}, {"diff", "a", "b", "c"}, {"diff", "a", "b", "--base", "main"}} {
		r := run(t, nil, args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "diff") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// TestFixturesFlag: --fixtures reaches the build on validate, build and
// diff; a malformed fixtures file fails the command with one line naming
// the file.
func TestFixturesFlag(t *testing.T) {
	env := withChartCache(t)
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("a: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "--repo", repoRoot, "--fixtures", dir, "local"},
		{"build", "--repo", repoRoot, "--offline", "--fixtures", dir, "local"},
		{"diff", "--repo", repoRoot, "--fixtures", dir, "local", "staging"},
	} {
		r := run(t, env, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != ExitFailure || len(lines) != 1 || !strings.Contains(lines[0], "fixtures file "+bad) {
			t.Errorf("%v: exit %d, stderr %q: want exit %d and one line naming %s", args, r.code, r.stderr, ExitFailure, bad)
		}
	}
	good := t.TempDir()
	if err := os.WriteFile(good+"/cluster.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: flux-system}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "validate", "--repo", repoRoot, "--fixtures", good, "local"); r.code != ExitOK {
		t.Errorf("valid fixtures: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestNoEnvironmentsIsAFailure: overlays/ without any cluster-vars.env is
// not "0 environments valid" but exit 2 with one line saying why, for every
// offline command.
func TestNoEnvironmentsIsAFailure(t *testing.T) {
	env := withChartCache(t)
	root := t.TempDir()
	if err := os.MkdirAll(root+"/overlays/local", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/overlays/local/kustomization.yaml", []byte("resources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "--repo", root},
		{"build", "--offline", "--repo", root, "local"},
		{"diff", "--repo", root, "local", "staging"},
	} {
		r := run(t, env, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != ExitFailure || len(lines) != 1 || !strings.Contains(r.stderr, "no environments: no directory under") || !strings.Contains(r.stderr, "cluster-vars.env") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line saying there are no environments", args, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v: stdout %q", args, r.stdout)
		}
	}
}

// TestTerminalSequencesAreEscaped: an object name and a Kustomization name
// holding terminal sequences are reported with them escaped, on stdout and
// stderr alike.
func TestTerminalSequencesAreEscaped(t *testing.T) {
	env := withChartCache(t)
	root := copyTree(t)
	testutil.Edit(t, root, "overlays/local/kustomization.yaml", "  - ghillie.yaml\n", "  - ghillie.yaml\n  - evil.yaml\n")
	evil := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"evil\\e]0;pwned\\a\\e[2J\"\n  namespace: \"ns\\r\\x9b31m\"\ndata:\n  \"key\\e[31m\": 1\n"
	if err := os.WriteFile(root+"/overlays/local/evil.yaml", []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "validate", "--repo", root, "local")
	if r.code != ExitFindings {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.ContainsAny(out, "\x1b\x07\r\u009b") {
			t.Errorf("%s carries control characters: %q", name, out)
		}
	}
	if !strings.Contains(r.stdout, `evil\x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("stdout does not name the object, escaped:\n%s", r.stdout)
	}
}
