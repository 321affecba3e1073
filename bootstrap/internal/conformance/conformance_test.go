package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// placeholderHost stands, in the cases' files, for the loopback Git server
// the suite starts; it is replaced before the build and the push alike.
const placeholderHost = "git.conformance.invalid"

// caseSpec is a case's case.yaml.
type caseSpec struct {
	// Description says what the case shows.
	Description string `json:"description"`
	// Repo is the folder of the case holding the repository the root
	// Kustomization reads (default "repo"); every folder of the case is
	// served as http://git.conformance.invalid/<folder>.git.
	Repo string `json:"repo"`
	// Path is the folder of Repo the root Kustomization applies.
	Path string `json:"path"`
	// Sources maps the other sources to folders of the case (--source).
	Sources map[string]string `json:"sources"`
	// HelmRepository is a folder of the case whose folders are charts,
	// served packed and indexed as the static chart repository
	// http://charts.conformance.invalid/<case>/ (and put in the offline
	// build's chart cache).
	HelmRepository string `json:"helmRepository"`
	// OCICharts are charts of Repo pushed to the registry
	// (registry.conformance.invalid) before the controllers run.
	OCICharts []ociChart `json:"ociCharts"`
	// OCIArtifacts are folders of the case pushed to the registry as Flux
	// artifacts before the controllers run.
	OCIArtifacts []ociArtifact `json:"ociArtifacts"`
}

// hosts are the addresses of the servers the placeholders stand for.
type hosts struct {
	git, charts, registry string
}

// loaded is a case read, copied with its placeholders replaced, and built
// offline.
type loaded struct {
	spec  caseSpec
	work  string // the case's copy
	built *gitops.Environment
	// charts is the packed and indexed helmRepository folder, if any.
	charts string
}

// TestConformance runs every case through the offline build and through
// the real controllers on one shared control plane, one case after the
// other (cases may use the same names), and requires the same objects.
func TestConformance(t *testing.T) {
	cases, err := filepath.Glob("testdata/cases/*/case.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases under testdata/cases: %v", err)
	}
	ctx := t.Context()
	env := testenv.Start(ctx, t, testenv.WithRequeueDependency(time.Second))
	c := testenv.Client(t, env)
	s := servers{git: startGitServer(t), charts: startChartServer(t), registryPush: env.RegistryPush}
	h := hosts{git: s.git.addr, charts: s.charts.addr, registry: env.RegistryPull}
	t.Run("capabilities", func(t *testing.T) { checkBuiltinAPIVersions(ctx, t, env.Config) })
	for _, file := range cases {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			runCase(ctx, t, c, s, h, dir)
		})
	}
	// This repository's own environments, after the cases, on the same
	// control plane (local is held to the controllers by up's test).
	for _, name := range cloudEnvironments(t) {
		t.Run("overlays/"+name, func(t *testing.T) {
			runEnvironment(ctx, t, c, env, name, testutil.ChartCache(t, repoRoot, false))
		})
	}
}

// servers are what the suite serves the cases' sources from.
type servers struct {
	git          *gitServer
	charts       *chartServer
	registryPush string // the registry as the suite pushes to it
}

// loadCase reads a case's case.yaml, copies the case with the servers'
// addresses in place of the placeholder hosts, and builds it offline.
// publish, when not nil, serves the copy's folders before the build and
// returns the revision each folder is served at.
func loadCase(ctx context.Context, t *testing.T, caseDir string, h hosts, publish func(work string) map[string]string) loaded {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(caseDir, "case.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec caseSpec
	if err := yaml.UnmarshalStrict(raw, &spec); err != nil {
		t.Fatalf("case.yaml: %v", err)
	}
	if spec.Repo == "" {
		spec.Repo = "repo"
	}
	if spec.Path == "" || spec.Description == "" {
		t.Fatalf("case.yaml needs a description and a path")
	}
	// The case with the Git server's address in place of the placeholder:
	// the build reads exactly what the controllers fetch.
	work := t.TempDir()
	copyReplacing(t, caseDir, work, strings.NewReplacer(placeholderHost, h.git, chartsHost, h.charts, registryHost, h.registry))

	var served map[string]string
	if publish != nil {
		served = publish(work)
	}
	// The revisions of the Git sources: the root GitRepository the suite
	// bootstraps, and the others the case maps.
	revisions := map[gitops.SourceRef]string{}
	if rev, ok := served[spec.Repo]; ok {
		revisions[gitops.SourceRef{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system"}] = rev
	}
	sources := map[gitops.SourceRef]string{}
	for ref, folder := range spec.Sources {
		r, _, err := gitops.ParseSource(ref + "=" + folder)
		if err != nil {
			t.Fatalf("case.yaml sources: %v", err)
		}
		sources[r] = filepath.Join(work, folder)
		if rev, ok := served[folder]; ok && r.Kind == "GitRepository" {
			revisions[r] = rev
		}
	}
	cache, err := chartcache.New(t.TempDir(), chartcache.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	var charts string
	if spec.HelmRepository != "" {
		url := "http://" + h.charts + "/" + filepath.Base(caseDir)
		charts = packHelmRepository(t, filepath.Join(work, spec.HelmRepository), url, cache)
	}
	cacheOCICharts(t, filepath.Join(work, spec.Repo), h.registry, spec.OCICharts, cache)
	built, err := gitops.BuildTarget(ctx, filepath.Join(work, spec.Repo), gitops.Target{Path: spec.Path},
		gitops.Options{Offline: true, ChartCache: cache, Sources: sources, Revisions: revisions})
	if err != nil {
		t.Fatalf("offline build: %v", err)
	}
	if len(built.Findings) > 0 {
		t.Fatalf("offline build has findings on a case the controllers accept: %v", built.Findings)
	}
	return loaded{spec: spec, work: work, built: built, charts: charts}
}

// TestCasesBuildOffline builds every case offline, without the control
// plane: each builds cleanly (the suite then holds the build to the
// controllers).
func TestCasesBuildOffline(t *testing.T) {
	cases, err := filepath.Glob("testdata/cases/*/case.yaml")
	if err != nil || len(cases) < 15 {
		t.Fatalf("want the cases under testdata/cases, got %d: %v", len(cases), err)
	}
	for _, file := range cases {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			l := loadCase(t.Context(), t, dir, hosts{git: "127.0.0.1:1", charts: "127.0.0.1:1", registry: "127.0.0.1:1"}, nil)
			if len(l.built.Objects) == 0 {
				t.Errorf("built nothing")
			}
		})
	}
}

func runCase(ctx context.Context, t *testing.T, c client.Client, s servers, h hosts, caseDir string) {
	l := loadCase(ctx, t, caseDir, h, func(work string) map[string]string {
		folders, err := os.ReadDir(work)
		if err != nil {
			t.Fatal(err)
		}
		revisions := map[string]string{}
		for _, f := range folders {
			if f.IsDir() {
				revisions[f.Name()] = s.git.publish(ctx, t, f.Name(), filepath.Join(work, f.Name()))
			}
		}
		return revisions
	})
	spec, work, built, git := l.spec, l.work, l.built, s.git
	if l.charts != "" {
		s.charts.serve(filepath.Base(caseDir), l.charts)
	}
	pushOCI(ctx, t, s.registryPush, filepath.Join(work, spec.Repo), work, spec.OCICharts, spec.OCIArtifacts)

	// The controllers: bootstrap as flux bootstrap does (a GitRepository
	// and a Kustomization applying the path), then wait.
	root := bootstrap(ctx, t, c, git.url(spec.Repo), spec.Path)
	t.Cleanup(func() { teardown(t, c, root) })
	var wantKs, wantHR []string
	wantKs = append(wantKs, "flux-system/flux-system")
	for _, o := range built.Objects {
		gvk := o.GroupVersionKind()
		switch {
		case gvk.Group == kustomizev1.GroupVersion.Group && gvk.Kind == kustomizev1.KustomizationKind:
			wantKs = append(wantKs, o.GetNamespace()+"/"+o.GetName())
		case gvk.Group == helmv2.GroupVersion.Group && gvk.Kind == helmv2.HelmReleaseKind:
			wantHR = append(wantHR, o.GetNamespace()+"/"+o.GetName())
		}
	}
	waitReady(ctx, t, c, wantKs, wantHR)

	// What the controllers applied, against what the build produced.
	if diffs := CompareCluster(ctx, t, c, built); len(diffs) > 0 {
		t.Errorf("%s: the offline build and the controllers differ in %d places:\n%s", spec.Description, len(diffs), strings.Join(diffs, "\n"))
	}
}

// copyReplacing copies src to dst, replacing with r in every file.
func copyReplacing(t *testing.T, src, dst string, r *strings.Replacer) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, []byte(r.Replace(string(data))), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bootstrap creates the root GitRepository and Kustomization as flux
// bootstrap does; the repository's own gotk-sync.yaml, if any, then takes
// them over.
func bootstrap(ctx context.Context, t *testing.T, c client.Client, url, path string) []client.Object {
	t.Helper()
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
		Spec: sourcev1.GitRepositorySpec{
			URL: url, Interval: metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute},
			Path:     "./" + path,
			Prune:    true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				Kind: sourcev1.GitRepositoryKind, Name: "flux-system",
			},
		},
	}
	for _, o := range []client.Object{repo, ks} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
	}
	return []client.Object{ks, repo}
}

// waitReady waits until every Kustomization and HelmRelease named is Ready
// for its current generation.
func waitReady(ctx context.Context, t *testing.T, c client.Client, ks, hrs []string) {
	t.Helper()
	waitReadyWithin(ctx, t, c, ks, hrs, 3*time.Minute)
}

// waitReadyWithin is waitReady waiting at most d.
func waitReadyWithin(ctx context.Context, t *testing.T, c client.Client, ks, hrs []string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pending := pendingObjects(ctx, c, ks, hrs)
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Ready after %s:\n%s", d, strings.Join(pending, "\n"))
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func pendingObjects(ctx context.Context, c client.Client, ks, hrs []string) []string {
	var out []string
	check := func(kind, key string, obj client.Object, conds func() []metav1.Condition) {
		ns, name, _ := strings.Cut(key, "/")
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			out = append(out, fmt.Sprintf("%s %s: %v", kind, key, err))
			return
		}
		ready := apimeta.FindStatusCondition(conds(), meta.ReadyCondition)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != obj.GetGeneration() {
			msg := "no Ready condition"
			if ready != nil {
				msg = fmt.Sprintf("%s: %s", ready.Reason, ready.Message)
			}
			out = append(out, fmt.Sprintf("%s %s: %s", kind, key, msg))
		}
	}
	for _, k := range ks {
		o := &kustomizev1.Kustomization{}
		check("Kustomization", k, o, func() []metav1.Condition { return o.Status.Conditions })
	}
	for _, k := range hrs {
		o := &helmv2.HelmRelease{}
		check("HelmRelease", k, o, func() []metav1.Condition { return o.Status.Conditions })
	}
	return out
}

// teardown deletes the root objects, lets kustomize-controller prune what
// they applied, and waits until no Flux object and no namespace the case
// made is left, so that the next case starts from a clean cluster.
func teardown(t *testing.T, c client.Client, root []client.Object) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := &corev1.NamespaceList{}
	_ = c.List(ctx, before)
	for _, o := range root {
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("teardown: %v", err)
		}
	}
	for {
		var left []string
		kl := &kustomizev1.KustomizationList{}
		hl := &helmv2.HelmReleaseList{}
		gl := &sourcev1.GitRepositoryList{}
		nl := &corev1.NamespaceList{}
		if err := c.List(ctx, kl); err == nil {
			for _, k := range kl.Items {
				left = append(left, "Kustomization "+k.Namespace+"/"+k.Name)
			}
		}
		if err := c.List(ctx, hl); err == nil {
			for _, h := range hl.Items {
				left = append(left, "HelmRelease "+h.Namespace+"/"+h.Name)
			}
		}
		if err := c.List(ctx, gl); err == nil {
			for _, g := range gl.Items {
				if err := c.Delete(ctx, &g); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("teardown: %v", err)
				}
				left = append(left, "GitRepository "+g.Namespace+"/"+g.Name)
			}
		}
		if err := c.List(ctx, nl); err == nil {
			for _, n := range nl.Items {
				if n.Status.Phase == corev1.NamespaceTerminating {
					left = append(left, "Namespace "+n.Name+" (terminating)")
				}
			}
		}
		if len(left) == 0 {
			return
		}
		sort.Strings(left)
		select {
		case <-ctx.Done():
			t.Errorf("teardown: still there after 3 minutes: %s", strings.Join(left, ", "))
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestReadmeListsEveryCase keeps the README's coverage table equal to the
// cases: one row per case, with its description.
func TestReadmeListsEveryCase(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "<!-- conformance cases: kept equal to the cases by TestReadmeListsEveryCase -->\n")
	table, _, ok2 := strings.Cut(table, "<!-- end of conformance cases -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no conformance table between its markers")
	}
	want := "| case | what it proves |\n| --- | --- |\n"
	files, _ := filepath.Glob("testdata/cases/*/case.yaml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var spec caseSpec
		if err := yaml.Unmarshal(raw, &spec); err != nil {
			t.Fatal(err)
		}
		want += fmt.Sprintf("| `%s` | %s |\n", filepath.Base(filepath.Dir(f)), spec.Description)
	}
	if table != want {
		t.Errorf("README.md's conformance table is not the cases'; want:\n%s", want)
	}
}
