package gitops

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

func TestRenderCacheKeysAndCopies(t *testing.T) {
	lc := &loadedChart{chart: &chart.Chart{Metadata: &chart.Metadata{Name: "c", Version: "1.0.0"}}, digest: "d1"}
	k1, err := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 2}})
	k3, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "other", Values: map[string]any{"a": 1}})
	changed := &loadedChart{chart: lc.chart, digest: "d2"}
	k4, _ := renderKey(changed, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1}})
	k5, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1}, APIVersions: []string{"example.com/v1"}})
	// Templates print float64(1000000) as 1e+06, int64(1000000) as 1000000.
	k6, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1, "big": int64(1000000)}})
	k7, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1, "big": float64(1000000)}})
	if k1 == k2 || k1 == k3 || k1 == k4 || k1 == k5 || k6 == k7 {
		t.Fatalf("different values, namespaces, chart contents, API versions or value types share a key: %q %q %q %q %q %q %q", k1, k2, k3, k4, k5, k6, k7)
	}

	ctx := context.Background()
	c := NewRenderCache()
	u := &unstructured.Unstructured{}
	u.SetName("orig")
	renders := 0
	fn := func() (*render.Result, error) {
		renders++
		return &render.Result{Objects: []*unstructured.Unstructured{u}}, nil
	}
	if _, _, err := c.render(ctx, k1, fn); err != nil {
		t.Fatal(err)
	}
	u.SetName("changed after the render")

	got, _, err := c.render(ctx, k1, fn)
	if err != nil || renders != 1 {
		t.Fatalf("second render of the same key: err %v, %d renders, want 1", err, renders)
	}
	if got.Objects[0].GetName() != "orig" {
		t.Fatalf("cache kept a reference to the renderer's object: %v", got)
	}
	got.Objects[0].SetLabels(map[string]string{"by": "caller"})
	again, _, _ := c.render(ctx, k1, fn)
	if len(again.Objects[0].GetLabels()) != 0 {
		t.Fatal("a caller's change to a cached result leaked into the cache")
	}

	// A failed render is not remembered: the next caller renders again.
	boom := errors.New("boom")
	if _, _, err := c.render(ctx, k2, func() (*render.Result, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed render: got %v, want %v", err, boom)
	}
	renders = 0
	if _, _, err := c.render(ctx, k2, fn); err != nil || renders != 1 {
		t.Fatalf("render after a failure: err %v, %d renders, want 1", err, renders)
	}

	var nilCache *RenderCache
	renders = 0
	nilCache.render(ctx, k1, fn)
	nilCache.render(ctx, k1, fn)
	if renders != 2 {
		t.Fatalf("a nil cache rendered %d times for two calls, want 2", renders)
	}
}

// TestRenderCacheRendersOnceConcurrently: builds running side by side that
// need the same render wait for one render rather than each doing it.
func TestRenderCacheRendersOnceConcurrently(t *testing.T) {
	c := NewRenderCache()
	var renders atomic.Int32
	release := make(chan struct{})
	fn := func() (*render.Result, error) {
		renders.Add(1)
		<-release
		return &render.Result{Manifest: "---\n# Source: c/templates/a.yaml\nkind: ConfigMap\nmetadata:\n  name: a\n"}, nil
	}
	var wg sync.WaitGroup
	results := make([]map[string]string, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, sources, err := c.render(context.Background(), "k", fn)
			if err != nil {
				t.Error(err)
			}
			results[i] = sources
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := renders.Load(); n != 1 {
		t.Fatalf("%d renders for one key, want 1", n)
	}
	for _, s := range results {
		if s["ConfigMap/a"] != "c/templates/a.yaml" {
			t.Fatalf("template sources %v, want ConfigMap/a from c/templates/a.yaml", s)
		}
	}
}

func TestKindAndName(t *testing.T) {
	cases := []struct{ doc, kind, name string }{
		{"# Source: c/templates/a.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    name: not-this\nspec:\n  name: nor-this\n", "Service", "web"},
		{"kind: \"ConfigMap\"\nmetadata:\n    annotations:\n      x: y\n    name: 'cfg'\n", "ConfigMap", "cfg"},
		{"apiVersion: v1\nkind: List\nitems: []\n", "", ""},                 // no name: the caller parses
		{"{\"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"}}", "", ""}, // JSON: the caller parses
	}
	for _, tc := range cases {
		if k, n := kindAndName(tc.doc); k != tc.kind || n != tc.name {
			t.Errorf("kindAndName(%q) = %q, %q; want %q, %q", tc.doc, k, n, tc.kind, tc.name)
		}
	}
}

// TestRenderCacheCRDsByContent: a CRD equal to one converted before in the
// run is shared; one that differs in anything is converted afresh.
func TestRenderCacheCRDsByContent(t *testing.T) {
	crd := func(plural string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": "widgets.example.com"},
			"spec": map[string]any{
				"group": "example.com",
				"scope": "Namespaced",
				"names": map[string]any{"kind": "Widget", "plural": plural},
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object"}},
				}},
			},
		}}
	}
	c := NewRenderCache()
	a, err := c.crd(crd("widgets"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.crd(crd("widgets"))
	if a != b {
		t.Fatal("an equal CRD was converted again")
	}
	changed, _ := c.crd(crd("gadgets"))
	if changed == a || changed.Spec.Names.Plural != "gadgets" {
		t.Fatalf("a changed CRD got the earlier conversion: plural %q", changed.Spec.Names.Plural)
	}
	o := crd("widgets")
	first, _ := c.crd(o)
	unstructured.SetNestedField(o.Object, "sprockets", "spec", "names", "plural")
	if again, _ := c.crd(o); again == first || again.Spec.Names.Plural != "sprockets" {
		t.Fatal("changing an object after its conversion changed what the cache compares against")
	}
}

// TestSharedBuildsMatchSeparateBuilds: environments built side by side
// with one RenderCache (one working copy, shared renders and CRDs) give
// exactly what each gives built alone, findings included, and Close
// removes the working copy.
func TestSharedBuildsMatchSeparateBuilds(t *testing.T) {
	cache := seededCache(t, true)
	root := copyRepo(t)
	// Break a directory every environment builds, and one only local
	// patches, so that failed builds and patch checks share the copy too.
	testutil.Edit(t, root, "gitops/apps/ghillie/data/valkey.yaml", "  nodes: 1\n", "  nodes: 1\n\treplicas: 0\n")
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "        kind: Valkey\n        name: ghillie-valkey\n", "        kind: Valkey\n        name: ghillie-valkyrie\n")
	envs, err := Environments(root)
	if err != nil {
		t.Fatal(err)
	}
	alone := map[string]*Environment{}
	for _, env := range envs {
		alone[env] = build(t, root, env, Options{Offline: true, ChartCache: cache})
	}

	shared := NewRenderCache()
	results := make([]*Environment, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := Build(context.Background(), root, env, Options{Offline: true, ChartCache: cache, Renders: shared})
			if err != nil {
				t.Error(err)
			}
			results[i] = e
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, env := range envs {
		got, want := results[i], alone[env]
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Errorf("%s: findings differ:\nshared: %v\nalone:  %v", env, got.Findings, want.Findings)
		}
		if len(want.Findings) == 0 {
			t.Errorf("%s: the broken copy gave no findings", env)
		}
		if !reflect.DeepEqual(got.Objects, want.Objects) {
			t.Errorf("%s: objects differ (%d shared, %d alone)", env, len(got.Objects), len(want.Objects))
		}
		if !reflect.DeepEqual(got.CRDs, want.CRDs) {
			t.Errorf("%s: CRDs differ (%d shared, %d alone)", env, len(got.CRDs), len(want.CRDs))
		}
	}

	tree, err := shared.tree(context.Background(), "published:"+root, func() (*workTree, error) {
		return nil, errors.New("the builds shared no working copy of the published directories")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the shared working copy is still there after Close: %v", err)
	}
}
