package gitops

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// metadataVariants are the spec.commonMetadata a HelmRelease may set:
// none, and labels and annotations that collide with the chart's own and
// with the origin labels (which win).
var metadataVariants = []postRenderMetadata{
	{origin: map[string]string{"helm.toolkit.fluxcd.io/name": "rel", "helm.toolkit.fluxcd.io/namespace": "ns"}},
	{
		labels: map[string]string{
			"team": "a", "app.kubernetes.io/name": "common",
			"helm.toolkit.fluxcd.io/name": "common",
		},
		annotations: map[string]string{"owner": "a", "meta.helm.sh/release-name": "x"},
		origin:      map[string]string{"helm.toolkit.fluxcd.io/name": "rel", "helm.toolkit.fluxcd.io/namespace": "ns"},
	},
}

// requireDirectIsUpstream applies m to objs both ways and requires the
// direct way to apply and to give exactly what the upstream way gives.
func requireDirectIsUpstream(t *testing.T, what string, m postRenderMetadata, objs []*unstructured.Unstructured) {
	t.Helper()
	before := make([]map[string]any, len(objs))
	for i, o := range objs {
		before[i] = o.DeepCopy().Object
	}
	direct, ok := m.applyDirect(objs)
	if !ok {
		t.Fatalf("%s: the direct path refused objects it should handle", what)
	}
	for i, o := range objs {
		if !reflect.DeepEqual(o.Object, before[i]) {
			t.Fatalf("%s: the direct path changed its input %s/%s", what, o.GetKind(), o.GetName())
		}
	}
	upstream, err := m.applyUpstream(deepCopies(objs))
	if err != nil {
		t.Fatalf("%s: upstream: %v", what, err)
	}
	if len(direct) != len(upstream) {
		t.Fatalf("%s: direct gives %d objects, upstream %d", what, len(direct), len(upstream))
	}
	for i := range direct {
		if !reflect.DeepEqual(direct[i].Object, upstream[i].Object) {
			d, _ := sigsyaml.Marshal(direct[i].Object)
			u, _ := sigsyaml.Marshal(upstream[i].Object)
			t.Fatalf("%s: object %d differs\ndirect:\n%s\nupstream:\n%s", what, i, d, u)
		}
	}
}

func deepCopies(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// TestDirectMetadataIsUpstreams proves the direct path equal to
// helm-controller's and Helm's (applyUpstream) on every object, hook and
// CRD the pinned charts and this repository's chart render.
func TestDirectMetadataIsUpstreams(t *testing.T) {
	archives, err := filepath.Glob(filepath.Join(testutil.ChartArchives(t, repoRoot), "*.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	paths := append(archives, filepath.Join(repoRoot, "charts", "ghillie"))
	rendered := 0
	for _, p := range paths {
		ch, err := render.LoadChart(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := render.Render(context.Background(), ch, render.Options{IncludeCRDs: true})
		if err != nil {
			// Some charts need values to render; their defaults are
			// all this test has.
			t.Logf("%s does not render with its defaults: %v", filepath.Base(p), err)
			continue
		}
		rendered++
		objs := append(append(append([]*unstructured.Unstructured{}, res.Objects...), res.Hooks...), res.CRDs...)
		for i, m := range metadataVariants {
			requireDirectIsUpstream(t, filepath.Base(p)+" variant "+string(rune('0'+i)), m, objs)
		}
	}
	if rendered < 4 {
		t.Fatalf("only %d of %d charts rendered with their defaults: the comparison covers too little", rendered, len(paths))
	}
}

// edgeObjects are objects whose metadata and values are at the edges of
// what the direct path handles.
const edgeObjects = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: empty-annotations
  annotations: {}
  creationTimestamp: null
data:
  "on": "on"
  "yes": "yes"
  num: "1e3"
  oct: "0777"
  tilde: "~"
  "null": "null"
  empty: ""
  multi: "line one\nline two\n  indented\n"
  colon: "a: b"
  unicode: "é ☃ \t tab"
  hash: "# not a comment"
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: values
  namespace: ns
  labels: {}
  annotations: null
spec:
  big: 9223372036854775807
  negative: -12
  flag: false
  nothing: null
  emptyMap: {}
  emptyList: []
  nested: [[1, 2], {a: [true]}]
---
apiVersion: v1
kind: Service
metadata:
  name: annotated
  labels: {helm.toolkit.fluxcd.io/name: chart-set, app: x}
  annotations: {owner: chart, keep: "true"}
spec:
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: null-labels
  labels: null
  annotations: null
`

func decodeObjects(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for doc := range strings.SplitSeq(stream, "\n---\n") {
		raw, err := sigsyaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestDirectMetadataEdges(t *testing.T) {
	objs := decodeObjects(t, edgeObjects)
	for i, m := range metadataVariants {
		requireDirectIsUpstream(t, "edges variant "+string(rune('0'+i)), m, objs)
	}
}

// TestDirectMetadataRefuses lists the objects the direct path leaves to
// the upstream one, because kustomize or Helm would change them beyond the
// metadata (or refuse them).
func TestDirectMetadataRefuses(t *testing.T) {
	cases := map[string]string{
		"a list":                   "apiVersion: v1\nkind: ConfigMapList\nmetadata: {name: l}\nitems: []\n",
		"a float":                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\nspec: {ratio: 1.5}\n",
		"a null list item":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\nspec: {items: [a, null]}\n",
		"a non-string label":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l, labels: {a: 1}}\n",
		"helm's filename":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: h, annotations: {postrenderer.helm.sh/postrender-filename: x}}\n",
		"no name":                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: g-}\n",
		"annotations that are not": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: [x]}\n",
	}
	for what, doc := range cases {
		if _, ok := metadataVariants[1].applyDirect(decodeObjects(t, doc)); ok {
			t.Errorf("%s: the direct path took it", what)
		}
	}
}

// TestMetadataUpstreamRefusesStaysRefused: a commonMetadata label key
// kustomize writes as a number fails helm-controller's post-render; the
// build fails the same way instead of setting it.
func TestMetadataUpstreamRefusesStaysRefused(t *testing.T) {
	m := metadataVariants[0]
	m.labels = map[string]string{"0": "zero"}
	objs := decodeObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	if _, ok := m.applyDirect(objs); ok {
		t.Fatal("the direct path took a label key upstream fails on")
	}
	if _, err := m.apply(objs); err == nil {
		t.Fatal("apply took a label key helm-controller's post-render fails on")
	}
}

// FuzzDirectMetadata compares apply (direct where it may be) with the
// upstream path on objects and metadata whose strings, keys and numbers
// are chosen by the fuzzer: both fail, or both give the same object.
func FuzzDirectMetadata(f *testing.F) {
	f.Add("key", "value", "label", int64(3), true)
	f.Add("on", "yes", "", int64(-1), false)
	f.Add("a.b/c", "1e3", "~", int64(0), true)
	f.Add("multi", "x\ny\n", "null", int64(1<<62), false)
	f.Add("0", "0", "0", int64(0), false) // upstream fails: kustomize writes the key 0 as a number
	f.Fuzz(func(t *testing.T, key, value, label string, n int64, b bool) {
		if key == "" {
			return
		}
		o := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1",
			"kind":       "ConfigMap",
			"metadata": map[string]any{
				"name":        "fuzz",
				"labels":      map[string]any{"l": label},
				"annotations": map[string]any{key: value},
			},
			"data": map[string]any{key: value, "n": n, "b": b, "list": []any{value, n}},
		}}
		m := postRenderMetadata{
			labels:      map[string]string{key: label},
			annotations: map[string]string{"a": value},
			origin:      metadataVariants[0].origin,
		}
		got, gotErr := m.apply([]*unstructured.Unstructured{o})
		want, wantErr := m.applyUpstream([]*unstructured.Unstructured{o.DeepCopy()})
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("apply: %v, upstream: %v", gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		if len(got) != 1 || len(want) != 1 || !reflect.DeepEqual(got[0].Object, want[0].Object) {
			t.Fatalf("differs:\napply:    %v\nupstream: %v", got, want)
		}
	})
}
