package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/publish"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/up"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// repoRoot is this repository's checkout, seen from this package.
const repoRoot = "../../.."

// registryVariable is the cluster variable naming the chart registry
// (overlays/README.md): up sets it to the registry it runs.
const registryVariable = up.RegistryVariable

// cloudEnvironments are the environments of this repository other than
// local, which the up test already holds to the controllers
// (TestUpOnRealControlPlane): found as the build finds them.
func cloudEnvironments(t *testing.T) []string {
	t.Helper()
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range envs {
		if e != "local" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		t.Fatal("no environment other than local under overlays/")
	}
	return out
}

// environmentCopy copies the repository for env and points every chart
// source of the copy at registry (host:port), as the local overlay and
// `up` do for a local cluster: in the copy's cluster-vars.env,
// CHART_REGISTRY is registry; every HelmRepository becomes
// `type: oci`, `insecure: true`, `url: oci://${CHART_REGISTRY}/charts`
// (where up pushes the pinned platform charts), and every OCIRepository
// `insecure: true`, `url: oci://${CHART_REGISTRY}/charts/<chart>`. The
// cloud environments reach the internet for their charts; the test
// cluster reaches only loopback, so nothing else is changed. It returns
// the copy.
func environmentCopy(t *testing.T, env, registry string) string {
	t.Helper()
	work := testutil.CopyRepo(t, repoRoot)
	varsFile := filepath.Join(work, gitops.OverlaysDir, filepath.FromSlash(env), gitops.VarsFile)
	data, err := os.ReadFile(varsFile)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^` + registryVariable + `=.*$`)
	if !line.Match(data) {
		t.Fatalf("%s sets no %s", varsFile, registryVariable)
	}
	data = line.ReplaceAll(data, []byte(registryVariable+"="+registry))
	if err := os.WriteFile(varsFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		return rewriteChartSources(p)
	})
	if err != nil {
		t.Fatalf("pointing the copy's chart sources at the registry: %v", err)
	}
	return work
}

// rewriteChartSources rewrites the HelmRepositories and OCIRepositories of
// the YAML file p (see environmentCopy); a file with neither is left as it
// is.
func rewriteChartSources(p string) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	docs := docSep.Split(string(data), -1)
	changed := false
	for i, doc := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj == nil {
			continue // not a manifest (a chart's template, values)
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		if !strings.HasPrefix(apiVersion, sourcev1.GroupVersion.Group+"/") {
			continue
		}
		spec, _ := obj["spec"].(map[string]any)
		if spec == nil {
			return fmt.Errorf("%s: %s with no spec", p, kind)
		}
		switch kind {
		case sourcev1.HelmRepositoryKind:
			spec["type"] = "oci"
			spec["insecure"] = true
			spec["url"] = "oci://${" + registryVariable + "}/" + up.ChartsRepo
		case sourcev1.OCIRepositoryKind:
			url, _ := spec["url"].(string)
			spec["insecure"] = true
			spec["url"] = "oci://${" + registryVariable + "}/" + up.ChartsRepo + "/" + url[strings.LastIndex(url, "/")+1:]
		default:
			continue
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		docs[i] = "\n" + string(out)
		changed = true
	}
	if !changed {
		return nil
	}
	return os.WriteFile(p, []byte(strings.Join(docs, "---")), 0o644)
}

// buildEnvironment builds env of the copy work offline, with the pinned
// charts from cache, and requires a clean build whose every chart source
// is in registry: nothing the controllers are then given may send them
// off this machine.
func buildEnvironment(ctx context.Context, t *testing.T, work, env, registry string, cache *chartcache.Cache) *gitops.Environment {
	t.Helper()
	built, err := gitops.Build(ctx, work, env, gitops.Options{Offline: true, ChartCache: cache})
	if err != nil {
		t.Fatalf("offline build of %s: %v", env, err)
	}
	if len(built.Findings) > 0 {
		t.Fatalf("offline build of %s has findings: %v", env, built.Findings)
	}
	sources := 0
	for _, o := range built.Objects {
		gvk := o.GroupVersionKind()
		if gvk.Group != sourcev1.GroupVersion.Group {
			continue
		}
		url, _, _ := unstructured.NestedString(o.Object, "spec", "url")
		if !strings.HasPrefix(url, "oci://"+registry+"/"+up.ChartsRepo) {
			t.Fatalf("%s %s/%s reads %q, not the test registry %s", gvk.Kind, o.GetNamespace(), o.GetName(), url, registry)
		}
		sources++
	}
	if sources == 0 {
		t.Fatalf("offline build of %s has no chart source", env)
	}
	return built
}

// TestEnvironmentCopiesBuildOffline builds every environment's copy, its
// chart sources pointed at a registry, offline and without the control
// plane: each builds cleanly and every chart source is in that registry
// (the suite then holds each to the controllers).
func TestEnvironmentCopiesBuildOffline(t *testing.T) {
	cache := testutil.ChartCache(t, repoRoot, false)
	for _, env := range cloudEnvironments(t) {
		t.Run("overlays/"+env, func(t *testing.T) {
			const registry = "127.0.0.1:1"
			work := environmentCopy(t, env, registry)
			built := buildEnvironment(t.Context(), t, work, env, registry, cache)
			releases := 0
			for _, o := range built.Objects {
				if o.GetKind() == helmv2.HelmReleaseKind {
					releases++
				}
			}
			// Every pinned platform chart and the app's chart.
			if want := len(versions.Charts) + 1; releases != want {
				t.Errorf("built %d HelmReleases, want %d", releases, want)
			}
		})
	}
}

// runEnvironment holds the environment env of this repository to the
// controllers as the cases are: a copy of the repository whose chart
// sources read the test registry (environmentCopy), the pinned platform
// charts and charts/ghillie pushed there as up pushes them
// (up.PushCharts), the copy pushed as the OCI artifact the cluster's root
// reads (overlays/README.md: the environments' Kustomizations read the
// OCIRepository flux-system, so the copy is served as up serves the
// repository, not from the Git server), the root bootstrapped as up does
// (gitops.RootObjects, with the copy's cluster variables), everything
// waited on, and what the controllers applied compared with the offline
// build of the same copy.
func runEnvironment(ctx context.Context, t *testing.T, c client.Client, env *testenv.Env, name string, cache *chartcache.Cache) {
	start := time.Now()
	work := environmentCopy(t, name, env.RegistryPull)
	built := buildEnvironment(ctx, t, work, name, env.RegistryPull, cache)

	pub, err := publish.New(env.RegistryPush, publish.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PushCharts(ctx, pub, cache, work, versions.Charts); err != nil {
		t.Fatalf("pushing the charts: %v", err)
	}
	if _, err := pub.Tree(ctx, work, gitops.ArtifactRepo, gitops.ArtifactTag); err != nil {
		t.Fatalf("pushing the repository: %v", err)
	}

	standCtx, stopStandIn := context.WithCancel(ctx)
	var wg sync.WaitGroup
	standInForWebhooks(standCtx, t, c, &wg)
	t.Cleanup(func() { stopStandIn(); wg.Wait() })

	data, err := gitops.ReadVarsFile(filepath.Join(work, gitops.OverlaysDir, filepath.FromSlash(name), gitops.VarsFile))
	if err != nil {
		t.Fatal(err)
	}
	vars, bad := gitops.ParseVars(data)
	if len(bad) > 0 {
		t.Fatalf("%s: line %d: want KEY=value", gitops.VarsFile, bad[0])
	}
	objs, err := gitops.RootObjects(name, env.RegistryPull, vars).Objects()
	if err != nil {
		t.Fatal(err)
	}
	var root []client.Object
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
		root = append([]client.Object{o}, root...) // the Kustomization first
	}
	t.Cleanup(func() {
		begin := time.Now()
		teardown(t, c, root)
		t.Logf("overlays/%s: teardown took %s", name, time.Since(begin).Round(time.Second))
	})

	wantKs := []string{gitops.FluxNamespace + "/" + gitops.RootName}
	var wantHR []string
	for _, o := range built.Objects {
		gvk := o.GroupVersionKind()
		switch {
		case gvk.Group == kustomizev1.GroupVersion.Group && gvk.Kind == kustomizev1.KustomizationKind:
			wantKs = append(wantKs, o.GetNamespace()+"/"+o.GetName())
		case gvk.Group == helmv2.GroupVersion.Group && gvk.Kind == helmv2.HelmReleaseKind:
			wantHR = append(wantHR, o.GetNamespace()+"/"+o.GetName())
		}
	}
	waitReadyWithin(ctx, t, c, wantKs, wantHR, 8*time.Minute)
	t.Logf("overlays/%s: %d Kustomizations and %d HelmReleases Ready after %s", name, len(wantKs), len(wantHR), time.Since(start).Round(time.Second))

	t.Logf("overlays/%s: comparing the %d objects of the offline build with the cluster", name, len(built.Objects))
	if diffs := CompareCluster(ctx, t, c, built); len(diffs) > 0 {
		t.Errorf("overlays/%s: the offline build and the controllers differ in %d places:\n%s", name, len(diffs), strings.Join(diffs, "\n"))
	}
}

// standInForWebhooks does, until ctx ends, the one thing of the absent
// operator pods the environments need, as the up test's stand-in does for
// CloudNativePG: the admission webhooks the platform charts register
// (cert-manager, external-secrets, CloudNativePG) are served by their
// operators' pods, which do not run here (kwok fakes pods), so the API
// server's calls to them are refused and the objects they admit
// (ClusterIssuer, ClusterSecretStore, ExternalSecret, Cluster) could never
// be applied. Once a HelmRelease is Ready (helm-controller has then
// installed and waited on every object of the release, these included),
// the webhook configurations it installed (helm-controller labels every
// object of a release with its name and namespace) are deleted. The
// comparison reads a release from Helm's record, not from the live
// objects, so this changes nothing it compares.
func standInForWebhooks(ctx context.Context, t *testing.T, c client.Client, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		done := map[string]bool{}
		for ctx.Err() == nil {
			hrs := &helmv2.HelmReleaseList{}
			if err := c.List(ctx, hrs); err == nil {
				for _, hr := range hrs.Items {
					key := hr.Namespace + "/" + hr.Name
					if done[key] || !apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.ReadyCondition) {
						continue
					}
					done[key] = deleteReleaseWebhooks(ctx, t, c, hr.Namespace, hr.Name)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

// deleteReleaseWebhooks deletes the webhook configurations of the release
// of the HelmRelease ns/name, and reports whether it could.
func deleteReleaseWebhooks(ctx context.Context, t *testing.T, c client.Client, ns, name string) bool {
	sel := client.MatchingLabels{helmv2.GroupVersion.Group + "/name": name, helmv2.GroupVersion.Group + "/namespace": ns}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if c.List(ctx, validating, sel) != nil || c.List(ctx, mutating, sel) != nil {
		return false
	}
	ok := true
	for i := range validating.Items {
		ok = deleteWebhook(ctx, t, c, &validating.Items[i], ns, name) && ok
	}
	for i := range mutating.Items {
		ok = deleteWebhook(ctx, t, c, &mutating.Items[i], ns, name) && ok
	}
	return ok
}

func deleteWebhook(ctx context.Context, t *testing.T, c client.Client, o client.Object, ns, name string) bool {
	if err := client.IgnoreNotFound(c.Delete(ctx, o)); err != nil {
		return false
	}
	t.Logf("stand-in for the operator of HelmRelease %s/%s: deleted %T %s", ns, name, o, o.GetName())
	return true
}
