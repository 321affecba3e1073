package gitops

import (
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/render"
)

func TestRenderCacheKeysAndCopies(t *testing.T) {
	lc := &loadedChart{chart: &chart.Chart{Metadata: &chart.Metadata{Name: "c", Version: "1.0.0"}}}
	k1, err := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "n", Values: map[string]any{"a": 2}})
	k3, _ := renderKey(lc, render.Options{ReleaseName: "r", Namespace: "other", Values: map[string]any{"a": 1}})
	if k1 == k2 || k1 == k3 {
		t.Fatalf("different values or namespaces share a key: %q %q %q", k1, k2, k3)
	}

	c := NewRenderCache()
	u := &unstructured.Unstructured{}
	u.SetName("orig")
	c.put(k1, &render.Result{Objects: []*unstructured.Unstructured{u}})
	u.SetName("changed after put")

	got, ok := c.get(k1)
	if !ok || got.Objects[0].GetName() != "orig" {
		t.Fatalf("cache kept a reference to the caller's object: %v", got)
	}
	got.Objects[0].SetLabels(map[string]string{"by": "caller"})
	again, _ := c.get(k1)
	if len(again.Objects[0].GetLabels()) != 0 {
		t.Fatal("a caller's change to a cached result leaked into the cache")
	}
	if _, ok := (*RenderCache)(nil).get(k1); ok {
		t.Fatal("a nil cache returned a result")
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
