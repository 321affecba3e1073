package gitops

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// repoRoot is the repository this package is in.
const repoRoot = "../.."

// noNetwork is a transport that fails the test on any connection attempt.
func noNetwork(t *testing.T) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			t.Errorf("the build touched the network: %s %s", network, addr)
			return nil, errors.New("network disabled in tests")
		},
	}
}

// seededCache is a chart cache in a temporary directory holding copies of
// the upstream archives; it may not touch the network.
func seededCache(t *testing.T, offline bool) *chartcache.Cache {
	t.Helper()
	src := testutil.ChartArchives(t, repoRoot)
	dir := t.TempDir()
	matches, _ := filepath.Glob(filepath.Join(src, "*.tgz"))
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(m)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := chartcache.New(dir, chartcache.WithOffline(offline), chartcache.WithTransport(noNetwork(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func build(t *testing.T, root, env string, opts Options) *Environment {
	t.Helper()
	e, err := Build(context.Background(), root, env, opts)
	if err != nil {
		t.Fatalf("build %s: %v", env, err)
	}
	return e
}

func TestEnvironments(t *testing.T) {
	got, err := Environments(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ephemeral/pr-123", "local", "production", "staging"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Environments = %v, want %v", got, want)
	}
}

func TestUnknownEnvironmentIsAnError(t *testing.T) {
	_, err := Build(context.Background(), repoRoot, "nowhere", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
	if err == nil || !strings.Contains(err.Error(), `unknown environment "nowhere"`) || !strings.Contains(err.Error(), "local") {
		t.Errorf("err = %v, want unknown environment listing the known ones", err)
	}
}

func mustCache(t *testing.T, dir string) *chartcache.Cache {
	c, err := chartcache.New(dir, chartcache.WithOffline(true), chartcache.WithTransport(noNetwork(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGolden builds every environment and compares it with
// testdata/golden: <env>.txt lists every object with its origin and every
// finding; <env>.yaml holds in full the objects declared in this repository
// and those rendered from its own charts (the upstream charts' objects are
// only listed, they are megabytes of CRDs).
func TestGolden(t *testing.T) {
	cache := seededCache(t, false)
	envs, err := Environments(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			e := build(t, repoRoot, env, Options{ChartCache: cache})
			var list, full bytes.Buffer
			for _, f := range e.Findings {
				fmt.Fprintf(&list, "finding %s\n", f)
			}
			for _, o := range e.Objects {
				fmt.Fprintf(&list, "%s\t%s:%d\tks=%s\thr=%s\n", o.ID(), o.Origin.File, o.Origin.Line, o.Origin.Kustomization, o.Origin.HelmRelease)
				if o.Origin.HelmRelease == "" || strings.HasPrefix(o.Origin.File, "charts/") {
					y, err := yaml.Marshal(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&full, "---\n# %s\n%s", o.Origin.File, y)
				}
			}
			fmt.Fprintf(&list, "crds %d\n", len(e.CRDs))
			name := strings.ReplaceAll(env, "/", "-")
			golden(t, filepath.Join("testdata", "golden", name+".txt"), list.Bytes())
			golden(t, filepath.Join("testdata", "golden", name+".yaml"), full.Bytes())
			if len(e.Findings) > 0 {
				t.Errorf("the repository's own environment %s has findings:\n%v", env, e.Findings)
			}
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the build (run go test -update and review the diff):\n%s", file, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, w, g)
		}
	}
	return ""
}

// find returns the object with the given kind, namespace and name.
func find(t *testing.T, e *Environment, kind, ns, name string) manifest.Object {
	t.Helper()
	for _, o := range e.Objects {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s has no %s", e.Name, manifest.Ref(kind, ns, name))
	return manifest.Object{}
}

func str(t *testing.T, o manifest.Object, path string) string {
	t.Helper()
	v, err := lookup(o.Object, path)
	if err != nil {
		t.Fatalf("%s: %s: %v", o.Ref(), path, err)
	}
	s, _ := v.(string)
	return s
}

// lookup reads a dotted path with [i] indices.
func lookup(obj any, path string) (any, error) {
	cur := obj
	for _, part := range strings.Split(path, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not a map", part)
			}
			if cur, ok = m[name]; !ok {
				return nil, fmt.Errorf("%s: missing", part)
			}
		}
		if hasIdx {
			var i int
			fmt.Sscanf(strings.TrimSuffix(idx, "]"), "%d", &i)
			l, ok := cur.([]any)
			if !ok || i >= len(l) {
				return nil, fmt.Errorf("%s: no such item", part)
			}
			cur = l[i]
		}
	}
	return cur, nil
}

func TestLocalEnvironment(t *testing.T) {
	cache := seededCache(t, true)
	e := build(t, repoRoot, "local", Options{Offline: true, ChartCache: cache, Vars: map[string]string{"CHART_REGISTRY": "k3d-registry.test:41234"}})
	if len(e.Findings) > 0 {
		t.Fatalf("findings: %v", e.Findings)
	}
	kinds := map[string]int{}
	for _, o := range e.Objects {
		kinds[o.GetKind()]++
		if o.GetKind() == "HelmRelease" && o.GetName() != "cloudnative-pg" && o.GetName() != "valkey-operator" && o.GetName() != "ghillie" {
			t.Errorf("local deploys %s: only cloudnative-pg, valkey-operator and ghillie belong there", o.Ref())
		}
		if o.GetKind() == "ExternalSecret" || o.GetKind() == "ClusterSecretStore" {
			t.Errorf("local deploys %s", o.Ref())
		}
	}
	// The registry address comes from the variable, never from the tree.
	for _, n := range []string{"cloudnative-pg", "valkey-operator"} {
		r := find(t, e, "HelmRepository", "flux-system", n)
		if got := str(t, r, "spec.url"); got != "oci://k3d-registry.test:41234/charts" || str(t, r, "spec.type") != "oci" {
			t.Errorf("%s url %q type %q, want the local registry", r.Ref(), got, str(t, r, "spec.type"))
		}
	}
	if got := str(t, find(t, e, "OCIRepository", "ghillie", "ghillie-chart"), "spec.url"); got != "oci://k3d-registry.test:41234/charts/ghillie" {
		t.Errorf("ghillie chart url %q", got)
	}
	d := find(t, e, "Deployment", "ghillie", "ghillie")
	if img := str(t, d, "spec.template.spec.containers[0].image"); img != "ghillie:local" {
		t.Errorf("image %q, want ghillie:local", img)
	}
	if p := str(t, d, "spec.template.spec.containers[0].imagePullPolicy"); p != "IfNotPresent" {
		t.Errorf("pullPolicy %q", p)
	}
	ing := find(t, e, "Ingress", "ghillie", "ghillie")
	if _, err := lookup(ing.Object, "spec.ingressClassName"); err == nil {
		t.Error("local ingress has a class")
	}
	if _, err := lookup(ing.Object, "spec.rules[0].host"); err == nil {
		t.Error("local ingress has a host")
	}
	if n, _ := lookup(find(t, e, "Valkey", "ghillie", "ghillie-valkey").Object, "spec.nodes"); n != int64(1) {
		t.Errorf("valkey nodes %v", n)
	}
	if n, _ := lookup(find(t, e, "Cluster", "ghillie", "ghillie-db").Object, "spec.instances"); n != int64(1) {
		t.Errorf("postgres instances %v", n)
	}
	if len(e.CRDs) == 0 {
		t.Error("no CRDs collected")
	}
	hr := find(t, e, "HelmRelease", "ghillie", "ghillie")
	if hr.Origin.File != "gitops/apps/ghillie/app/helmrelease.yaml" || hr.Origin.Line != 1 || hr.Origin.Kustomization != "flux-system/ghillie-app" {
		t.Errorf("HelmRelease origin %+v", hr.Origin)
	}
	if d.Origin.File != "charts/ghillie/templates/deployment.yaml" || d.Origin.HelmRelease != "ghillie/ghillie" {
		t.Errorf("Deployment origin %+v", d.Origin)
	}
}

func TestEphemeralEnvironment(t *testing.T) {
	e := build(t, repoRoot, "ephemeral/pr-123", Options{Offline: true, ChartCache: seededCache(t, true)})
	if len(e.Findings) > 0 {
		t.Fatalf("findings: %v", e.Findings)
	}
	for _, o := range e.Objects {
		if o.GetNamespace() == "ghillie" || (o.GetKind() == "Namespace" && o.GetName() == "ghillie") {
			t.Errorf("%s was not moved to pr-123", o.Ref())
		}
	}
	find(t, e, "Namespace", "", "pr-123")
	find(t, e, "Cluster", "pr-123", "ghillie-db")
	ing := find(t, e, "Ingress", "pr-123", "ghillie")
	if h := str(t, ing, "spec.rules[0].host"); h != "pr-123.preview.example.com" {
		t.Errorf("host %q", h)
	}
	if h := str(t, ing, "spec.tls[0].hosts[0]"); h != "pr-123.preview.example.com" {
		t.Errorf("tls host %q", h)
	}
	es := find(t, e, "ExternalSecret", "pr-123", "ghillie")
	if s := str(t, es, "spec.secretStoreRef.name"); s != "platform-vault" {
		t.Errorf("secret store %q", s)
	}
	img := str(t, find(t, e, "Deployment", "pr-123", "ghillie"), "spec.template.spec.containers[0].image")
	if !strings.HasPrefix(img, "ghcr.io/leynos/ghillie:sha-") {
		t.Errorf("image %q, want an immutable sha- tag", img)
	}
	css := find(t, e, "ClusterSecretStore", "", "platform-vault")
	if css.GetAPIVersion() != "external-secrets.io/v1" {
		t.Errorf("%s apiVersion %s", css.Ref(), css.GetAPIVersion())
	}
}

// copyRepo copies the published directories of the repository to a
// temporary one the test may break.
func copyRepo(t *testing.T) string {
	t.Helper()
	return testutil.CopyRepo(t, repoRoot)
}

// TestFindings breaks a copy of the repository in one way per case and
// checks the build reports it with its file, line, object and field, and
// still builds the rest.
func TestFindings(t *testing.T) {
	cache := seededCache(t, true)
	cases := []struct {
		name    string
		env     string
		breakIt func(t *testing.T, root string)
		cache   *chartcache.Cache
		want    manifest.Finding
		msg     string
		still   string // an object Ref the build must still produce
	}{
		{
			name: "malformed YAML",
			env:  "local",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "gitops/apps/ghillie/data/valkey.yaml", "  nodes: 1\n", "  nodes: 1\n\treplicas: 0\n")
			},
			want:  manifest.Finding{File: "gitops/apps/ghillie/data/valkey.yaml", Line: 10, Object: "Kustomization/flux-system/ghillie-data"},
			msg:   "malformed YAML",
			still: "HelmRelease/ghillie/ghillie",
		},
		{
			name: "malformed YAML in the overlay",
			env:  "production",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/production/ghillie.yaml", "  name: ghillie-data\n", "  name: ghillie-data\n  labels: {a: b\n")
			},
			want:  manifest.Finding{File: "overlays/production/ghillie.yaml", Line: 5, Object: "Kustomization/flux-system/flux-system"},
			msg:   "malformed YAML",
			still: "", // nothing can be built without the root
		},
		{
			name: "patch target missing",
			env:  "local",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/local/ghillie.yaml", "        kind: Valkey\n        name: ghillie-valkey\n", "        kind: Valkey\n        name: ghillie-valkyrie\n")
			},
			want:  manifest.Finding{File: "overlays/local/ghillie.yaml", Line: 1, Object: "Kustomization/flux-system/ghillie-data", Field: "spec.patches[1].target"},
			msg:   "name=ghillie-valkyrie",
			still: "Valkey/ghillie/ghillie-valkey",
		},
		{
			name: "unknown values key",
			env:  "local",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/local/ghillie.yaml", "              tag: local\n", "              tag: local\n              tagg: oops\n")
			},
			want:  manifest.Finding{File: "gitops/apps/ghillie/app/helmrelease.yaml", Line: 1, Object: "HelmRelease/ghillie/ghillie", Field: "spec.values.image.tagg"},
			msg:   `unknown key "tagg"`,
			still: "Deployment/cnpg-system/cloudnative-pg",
		},
		{
			name: "chartRef to a missing source",
			env:  "local",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "gitops/apps/ghillie/app/helmrelease.yaml", "    name: ghillie-chart\n", "    name: ghillie-charts\n")
			},
			want:  manifest.Finding{File: "gitops/apps/ghillie/app/helmrelease.yaml", Line: 1, Object: "HelmRelease/ghillie/ghillie", Field: "spec.chartRef.name"},
			msg:   "OCIRepository ghillie/ghillie-charts is not deployed by this environment",
			still: "OCIRepository/ghillie/ghillie-chart",
		},
		{
			name: "Kustomization path missing",
			env:  "staging",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/staging/platform.yaml", "path: ./gitops/platform/traefik\n", "path: ./gitops/platform/traefic\n")
			},
			want:  manifest.Finding{File: "overlays/staging/platform.yaml", Line: 41, Object: "Kustomization/flux-system/platform-traefik", Field: "spec.path"},
			msg:   `"./gitops/platform/traefic" does not exist`,
			still: "HelmRelease/cert-manager/cert-manager",
		},
		{
			name:    "chart missing offline",
			env:     "local",
			breakIt: func(t *testing.T, root string) {},
			cache:   mustCache(t, t.TempDir()),
			want:    manifest.Finding{File: "gitops/platform/cloudnative-pg/helmrelease.yaml", Line: 1, Object: "HelmRelease/cnpg-system/cloudnative-pg", Field: "spec.chart.spec"},
			msg:     "chart cloudnative-pg version 0.26.1 from https://cloudnative-pg.github.io/charts is not in the chart cache",
			still:   "Deployment/ghillie/ghillie",
		},
		{
			name: "substitution variable not set",
			env:  "local",
			breakIt: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/local/cluster-vars.env", "CHART_REGISTRY=", "CHART_REGISTRIES=")
			},
			want:  manifest.Finding{File: "gitops/apps/ghillie/app/ocirepository.yaml", Line: 3, Object: "OCIRepository/ghillie/ghillie-chart"},
			msg:   "CHART_REGISTRY",
			still: "Deployment/ghillie/ghillie",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepo(t)
			tc.breakIt(t, root)
			c := cache
			if tc.cache != nil {
				c = tc.cache
			}
			e := build(t, root, tc.env, Options{Offline: true, ChartCache: c})
			var hit *manifest.Finding
			for i, f := range e.Findings {
				if f.File == tc.want.File && f.Line == tc.want.Line && f.Object == tc.want.Object && f.Field == tc.want.Field && strings.Contains(f.Message, tc.msg) {
					hit = &e.Findings[i]
				}
			}
			if testing.Verbose() {
				t.Log(findingsText(e.Findings))
			}
			if hit == nil {
				t.Errorf("no finding %s: ... %q among:\n%s", tc.want, tc.msg, findingsText(e.Findings))
			} else if hit.Environment != tc.env {
				t.Errorf("finding environment %q, want %q", hit.Environment, tc.env)
			}
			found := tc.still == ""
			for _, o := range e.Objects {
				found = found || o.Ref() == tc.still
			}
			if !found {
				t.Errorf("the build stopped: %s is missing", tc.still)
			}
		})
	}
}

func findingsText(fs []manifest.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}
