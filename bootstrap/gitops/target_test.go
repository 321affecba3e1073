package gitops

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// buildPath builds path of the repository at root offline with an empty
// chart cache (these repositories render no chart from one).
func buildPath(t *testing.T, root, path string, opts Options) *Environment {
	t.Helper()
	opts.Offline = true
	cache, err := chartcache.New(t.TempDir(), chartcache.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	opts.ChartCache = cache
	env, err := BuildTarget(context.Background(), root, Target{Path: path}, opts)
	if err != nil {
		t.Fatalf("build --path %s: %v", path, err)
	}
	return env
}

// cases holds the conformance suite's cases, which the suite also applies
// through the real controllers: the layouts these tests build.
const cases = "../internal/conformance/testdata/cases"

// copyDir copies a testdata folder into a new temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	testutil.CopyTree(t, src, dst)
	return dst
}

func ids(objs []manifest.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Ref())
	}
	return out
}

func findRef(t *testing.T, env *Environment, ref string) manifest.Object {
	t.Helper()
	for _, o := range env.Objects {
		if o.Ref() == ref {
			return o
		}
	}
	t.Fatalf("%s not built; got %v", ref, ids(env.Objects))
	return manifest.Object{}
}

// A flux bootstrap repository builds as it is: the root source is the
// GitRepository gotk-sync.yaml declares, every Kustomization reading it is
// followed, and the root path is built with the spec of the Kustomization
// that applies it (here its postBuild substitution).
func TestBuildPathOfABootstrapRepository(t *testing.T) {
	root := copyDir(t, cases+"/bootstrap-layout/repo")
	env := buildPath(t, root, "clusters/staging", Options{})
	if len(env.Findings) > 0 {
		t.Fatalf("findings on a valid bootstrap repository: %v", env.Findings)
	}
	want := []string{
		"GitRepository/flux-system/flux-system",
		"Kustomization/flux-system/flux-system",
		"ConfigMap/flux-system/cluster-info",
		"Kustomization/flux-system/infra-controllers",
		"Kustomization/flux-system/infra-configs",
		"Kustomization/flux-system/apps",
		"Namespace/monitoring",
		"ClusterRole/collector",
		"LimitRange/monitoring/defaults",
		"Deployment/podinfo/podinfo",
		"Service/podinfo/podinfo",
	}
	got := ids(env.Objects)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s not built; got %v", w, got)
		}
	}
	if name, _, _ := unstructured.NestedString(findRef(t, env, "ConfigMap/flux-system/cluster-info").Object, "data", "name"); name != "staging" {
		t.Errorf("cluster-info data.name = %q, want the root Kustomization's substitute %q", name, "staging")
	}
	if n, _, _ := unstructured.NestedInt64(findRef(t, env, "Deployment/podinfo/podinfo").Object, "spec", "replicas"); n != 2 {
		t.Errorf("podinfo replicas = %d, want the staging patch's 2", n)
	}
	cm := findRef(t, env, "ConfigMap/flux-system/cluster-info")
	if got := cm.GetLabels()["kustomize.toolkit.fluxcd.io/name"]; got != "flux-system" {
		t.Errorf("cluster-info is labelled as applied by %q, want flux-system", got)
	}
	if cm.Origin.File != "clusters/staging/cluster-info.yaml" {
		t.Errorf("cluster-info origin %q, want clusters/staging/cluster-info.yaml", cm.Origin.File)
	}
}

// A tenant's GitRepository is not the repository: without --source it is
// one finding naming the flag, and the rest is still built; with it, the
// tenant's folder is built into the tenant's namespace.
func TestBuildPathWithATenantSource(t *testing.T) {
	repos := copyDir(t, cases+"/multi-tenant")
	root := filepath.Join(repos, "repo")

	env := buildPath(t, root, "clusters/production", Options{})
	if len(env.Findings) != 1 {
		t.Fatalf("want one finding for the unmapped tenant source, got %v", env.Findings)
	}
	f := env.Findings[0]
	if f.Object != "Kustomization/team-a/team-a" || f.Field != "spec.sourceRef" || f.File != "tenants/team-a/sync.yaml" ||
		!strings.Contains(f.Message, "--source GitRepository/team-a/team-a=DIR") {
		t.Errorf("finding %+v: want it on tenants/team-a/sync.yaml, Kustomization/team-a/team-a, spec.sourceRef, naming --source", f)
	}
	findRef(t, env, "RoleBinding/team-a/team-a-reconciler")

	env = buildPath(t, root, "clusters/production", Options{Sources: map[SourceRef]string{
		{Kind: "GitRepository", Namespace: "team-a", Name: "team-a"}: filepath.Join(repos, "team-a"),
	}})
	if len(env.Findings) > 0 {
		t.Fatalf("findings with the tenant mapped: %v", env.Findings)
	}
	cm := findRef(t, env, "ConfigMap/team-a/web-settings")
	if cm.Origin.File != "../team-a/deploy/production/app.yaml" {
		t.Errorf("origin %q: want the tenant file relative to the repository", cm.Origin.File)
	}
	if cm.GetLabels()["kustomize.toolkit.fluxcd.io/name"] != "team-a" {
		t.Errorf("web-settings labels %v: want it applied by team-a", cm.GetLabels())
	}
}

// The files source-controller leaves out of an artifact (.sourceignore,
// its default exclusions) are not there for kustomize either.
func TestBuildPathHonoursSourceIgnore(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"clusters/dev/flux-system/sync.yaml": `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/dev
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
		"clusters/dev/kept.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: default\n",
		"clusters/dev/draft.wip.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wip\n  namespace: default\n",
		".sourceignore":               "*.wip.yaml\n",
	})
	env := buildPath(t, root, "clusters/dev", Options{})
	if len(env.Findings) > 0 {
		t.Fatalf("findings: %v", env.Findings)
	}
	got := ids(env.Objects)
	if !slices.Contains(got, "ConfigMap/default/kept") || slices.Contains(got, "ConfigMap/default/wip") {
		t.Errorf("objects %v: want kept and not the .sourceignore'd wip", got)
	}
}

// Bad targets are errors, not findings: a path outside the repository, a
// missing one, a file, and --var with a path.
func TestBuildPathRefusesBadTargets(t *testing.T) {
	root := copyDir(t, cases+"/bootstrap-layout/repo")
	if err := os.Symlink(os.TempDir(), filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		opts Options
		want string
	}{
		{"../", Options{}, "outside the repository"},
		{"clusters/nowhere", Options{}, "no such folder"},
		{"clusters/staging/apps.yaml", Options{}, "not a folder"},
		{"out", Options{}, "leads outside the repository"},
		{".", Options{}, "the repository itself"},
		{"clusters/staging", Options{Vars: map[string]string{"a": "b"}}, "--var"},
	} {
		_, err := BuildTarget(context.Background(), root, Target{Path: tc.path}, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--path %q: err %v, want one saying %q", tc.path, err, tc.want)
		}
	}
}

func TestParseSource(t *testing.T) {
	ref, dir, err := ParseSource("GitRepository/team-a/apps=../apps")
	if err != nil || ref != (SourceRef{"GitRepository", "team-a", "apps"}) || dir != "../apps" {
		t.Errorf("got %v %q %v", ref, dir, err)
	}
	for _, bad := range []string{"GitRepository/team-a/apps", "GitRepository/apps=.", "HelmRepository/a/b=.", "=.", "GitRepository//x=."} {
		if _, _, err := ParseSource(bad); err == nil {
			t.Errorf("ParseSource(%q) accepted", bad)
		}
	}
}

// An ArtifactGenerator's ExternalArtifact is generated offline by its copy
// rules (globs, excludes, the Merge strategy) and built like any source.
func TestBuildPathGeneratesExternalArtifacts(t *testing.T) {
	root := copyDir(t, "testdata/repos/generator")
	env := buildPath(t, root, "clusters/dev", Options{})
	if len(env.Findings) > 0 {
		t.Fatalf("findings: %v", env.Findings)
	}
	cm := findRef(t, env, "ConfigMap/podinfo/podinfo-settings")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if data["level"] != "debug" || data["color"] != "blue" {
		t.Errorf("settings data %v: want dev's level merged over base's (level debug, color blue)", data)
	}
	findRef(t, env, "ServiceAccount/podinfo/podinfo")
	if !strings.HasPrefix(cm.Origin.File, "clusters/dev/generator.yaml#podinfo-dev/") {
		t.Errorf("origin %q: want it named through the generator", cm.Origin.File)
	}

	// A copy rule matching nothing is one finding on the generator.
	testutil.Edit(t, root, "clusters/dev/generator.yaml", "@repo/apps/podinfo/dev/settings.yaml", "@repo/apps/podinfo/prod/settings.yaml")
	env = buildPath(t, root, "clusters/dev", Options{})
	if len(env.Findings) != 1 || env.Findings[0].Object != "ArtifactGenerator/flux-system/podinfo" ||
		env.Findings[0].Field != "spec.artifacts[0].copy[1]" || !strings.Contains(env.Findings[0].Message, "does not exist") {
		t.Errorf("findings %v: want one on the generator's copy[1]", env.Findings)
	}
}

// A HelmRelease whose chartRef is an ExternalArtifact is rendered from
// the artifact the generator makes, its one top-level folder being the
// chart; an artifact with files at its top is refused, as Helm's archive
// loader refuses it.
func TestBuildPathRendersChartsFromExternalArtifacts(t *testing.T) {
	root := copyDir(t, "testdata/repos/generator")
	env := buildPath(t, root, "clusters/dev", Options{})
	if len(env.Findings) > 0 {
		t.Fatalf("findings: %v", env.Findings)
	}
	cm := findRef(t, env, "ConfigMap/podinfo/greeter-greeting")
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "greeting"); got != "hi" {
		t.Errorf("greeting %q, want the release's value hi", got)
	}
	if cm.Origin.HelmRelease != "podinfo/greeter" {
		t.Errorf("origin %+v: want the HelmRelease", cm.Origin)
	}

	testutil.Edit(t, root, "clusters/dev/generator.yaml", `to: "@artifact/greeter/"`, `to: "@artifact/"`)
	env = buildPath(t, root, "clusters/dev", Options{})
	if len(env.Findings) != 1 || env.Findings[0].Object != "HelmRelease/podinfo/greeter" || env.Findings[0].Field != "spec.chartRef.name" ||
		!strings.Contains(env.Findings[0].Message, "outside its base folder") {
		t.Errorf("findings %v: want one on the chartRef of an artifact with files at its top", env.Findings)
	}
}

// A HelmRelease whose chart is a folder of a GitRepository is rendered
// from that folder, with its valuesFiles merged over the chart's defaults
// and the HelmChart's generation added to the chart version, as
// source-controller builds it.
func TestBuildPathRendersChartsFromGitRepositories(t *testing.T) {
	root := copyDir(t, cases+"/helm-git-chart/repo")
	env := buildPath(t, root, "clusters/test", Options{})
	if len(env.Findings) > 0 {
		t.Fatalf("findings: %v", env.Findings)
	}
	dep := findRef(t, env, "Deployment/helm-git-target/web-prod")
	if got := dep.GetLabels()["helm.sh/chart"]; got != "web-1.2.3_1" {
		t.Errorf("helm.sh/chart = %q, want web-1.2.3_1 (version with the HelmChart's generation)", got)
	}
	if n, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); n != 2 {
		t.Errorf("replicas %d, want 2 from values-prod.yaml", n)
	}
	if dep.Origin.File != "charts/web/templates/deployment.yaml" || dep.Origin.HelmRelease != "helm-git/web" {
		t.Errorf("origin %+v", dep.Origin)
	}
	testutil.Edit(t, root, "apps/release.yaml", "./charts/web/values-prod.yaml", "./charts/web/values-missing.yaml")
	env = buildPath(t, root, "clusters/test", Options{})
	if len(env.Findings) != 1 || env.Findings[0].Field != "spec.chart.spec.valuesFiles[1]" {
		t.Errorf("findings %v: want one on the missing values file", env.Findings)
	}
}
