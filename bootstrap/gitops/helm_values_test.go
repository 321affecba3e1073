package gitops

import (
	"context"
	"reflect"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	fluxchartutil "github.com/fluxcd/pkg/chartutil"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// parseObjects decodes a multi-document YAML stream into objects.
func parseObjects(t *testing.T, text string) []manifest.Object {
	t.Helper()
	var out []manifest.Object
	for _, doc := range strings.Split(text, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := sigsyaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("parse %q: %v", doc, err)
		}
		out = append(out, manifest.Object{Unstructured: &unstructured.Unstructured{Object: m}, Origin: manifest.Origin{File: "gitops/apps/release.yaml", Line: 1}})
	}
	return out
}

// upstreamValues is what helm-controller v1.6.4 composes for the
// HelmRelease hrYAML with the ConfigMaps and Secrets in stored (as the API
// server stores them): the HelmRelease decoded into the v2 API type as the
// controller decodes it, and fluxcd/pkg/chartutil called as
// internal/controller/helmrelease_controller.go calls it.
func upstreamValues(t *testing.T, hrYAML string, stored ...client.Object) (map[string]any, error) {
	t.Helper()
	var hr helmv2.HelmRelease
	if err := sigsyaml.Unmarshal([]byte(hrYAML), &hr); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithObjects(stored...).Build()
	return fluxchartutil.ChartValuesFromReferences(context.Background(), logr.Discard(), c, hr.Namespace, hr.GetValues(), hr.Spec.ValuesFrom...)
}

func TestMergedValuesAsHelmController(t *testing.T) {
	const hrHead = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: app
spec:
`
	cm := func(name string, data map[string]string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metaName(name), Data: data}
	}
	cases := []struct {
		name    string
		objects string // ConfigMaps and Secrets the environment applies
		spec    string
		stored  []client.Object // the same, as the API server stores them
		check   func(t *testing.T, v map[string]any)
		field   string // the finding expected, if any
	}{{
		name: "targetPath sets the string 3 as the integer 3",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: knobs, namespace: app}
data: {replicas: "3"}`,
		spec:   `  valuesFrom: [{kind: ConfigMap, name: knobs, valuesKey: replicas, targetPath: replicaCount}]`,
		stored: []client.Object{cm("knobs", map[string]string{"replicas": "3"})},
		check: func(t *testing.T, v map[string]any) {
			if got, ok := v["replicaCount"].(int64); !ok || got != 3 {
				t.Errorf("replicaCount = %#v, want int64 3", v["replicaCount"])
			}
		},
	}, {
		name: "targetPath with an escaped dot is one key",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: knobs, namespace: app}
data: {note: hello}`,
		spec:   `  valuesFrom: [{kind: ConfigMap, name: knobs, valuesKey: note, targetPath: 'podAnnotations.example\.com/note'}]`,
		stored: []client.Object{cm("knobs", map[string]string{"note": "hello"})},
		check: func(t *testing.T, v map[string]any) {
			pa, _ := v["podAnnotations"].(map[string]any)
			if pa["example.com/note"] != "hello" || len(pa) != 1 {
				t.Errorf("podAnnotations = %#v, want {example.com/note: hello}", v["podAnnotations"])
			}
		},
	}, {
		name: "a literal targetPath value is taken verbatim",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: knobs, namespace: app}
data: {list: "a,b={c}"}`,
		spec:   `  valuesFrom: [{kind: ConfigMap, name: knobs, valuesKey: list, targetPath: config.raw, literal: true}]`,
		stored: []client.Object{cm("knobs", map[string]string{"list": "a,b={c}"})},
		check: func(t *testing.T, v map[string]any) {
			if c, _ := v["config"].(map[string]any); c["raw"] != "a,b={c}" {
				t.Errorf("config = %#v, want raw: a,b={c}", v["config"])
			}
		},
	}, {
		name: "valuesKey defaults to values.yaml",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: vals, namespace: app}
data:
  values.yaml: |
    image: {tag: "1.2"}`,
		spec:   `  valuesFrom: [{kind: ConfigMap, name: vals}]`,
		stored: []client.Object{cm("vals", map[string]string{"values.yaml": "image: {tag: \"1.2\"}\n"})},
		check: func(t *testing.T, v map[string]any) {
			if img, _ := v["image"].(map[string]any); img["tag"] != "1.2" {
				t.Errorf("image = %#v, want tag 1.2", v["image"])
			}
		},
	}, {
		name: "valuesFrom merge in order, then spec.values on top",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: app}
data:
  values.yaml: "a: one\nb: one\nc: one\n"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: app}
data:
  values.yaml: "b: two\nc: two\n"`,
		spec: `  valuesFrom: [{kind: ConfigMap, name: one}, {kind: ConfigMap, name: two}]
  values: {c: spec, big: 1000000}`,
		stored: []client.Object{cm("one", map[string]string{"values.yaml": "a: one\nb: one\nc: one\n"}), cm("two", map[string]string{"values.yaml": "b: two\nc: two\n"})},
		check: func(t *testing.T, v map[string]any) {
			if v["a"] != "one" || v["b"] != "two" || v["c"] != "spec" {
				t.Errorf("a, b, c = %v, %v, %v; want one, two, spec", v["a"], v["b"], v["c"])
			}
			if _, ok := v["big"].(float64); !ok {
				t.Errorf("spec.values number %#v: want float64, as the controller decodes spec.values (%#v)", v["big"], v)
			}
		},
	}, {
		name: "an optional missing key is skipped",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: vals, namespace: app}
data: {values.yaml: "a: 1"}`,
		spec:   `  valuesFrom: [{kind: ConfigMap, name: vals, valuesKey: absent, optional: true}, {kind: ConfigMap, name: vals}]`,
		stored: []client.Object{cm("vals", map[string]string{"values.yaml": "a: 1"})},
		check: func(t *testing.T, v map[string]any) {
			if v["a"] != float64(1) || len(v) != 1 {
				t.Errorf("values %#v, want {a: 1}", v)
			}
		},
	}, {
		name: "a Secret's stringData is read as its data",
		objects: `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: app}
data: {values.yaml: "YTogZGF0YQo=", other: "eDogMQo="}
stringData: {values.yaml: "a: string"}`,
		spec: `  valuesFrom: [{kind: Secret, name: creds}, {kind: Secret, name: creds, valuesKey: other}]`,
		stored: []client.Object{&corev1.Secret{ObjectMeta: metaName("creds"), Data: map[string][]byte{
			"values.yaml": []byte("a: string"), "other": []byte("x: 1\n")}}},
		check: func(t *testing.T, v map[string]any) {
			if v["a"] != "string" || v["x"] != float64(1) {
				t.Errorf("values %#v, want a from stringData and x from data", v)
			}
		},
	}, {
		name:   "a ConfigMap the environment does not apply is skipped",
		spec:   `  valuesFrom: [{kind: ConfigMap, name: made-in-cluster}]`,
		stored: nil, // upstream would wait for it; compared below as optional
		check: func(t *testing.T, v map[string]any) {
			if len(v) != 0 {
				t.Errorf("values %#v, want none", v)
			}
		},
	}, {
		name: "a missing key is a finding",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: vals, namespace: app}
data: {values.yaml: "a: 1"}`,
		spec:  `  valuesFrom: [{kind: ConfigMap, name: vals}, {kind: ConfigMap, name: vals, valuesKey: absent}]`,
		field: "spec.valuesFrom[1].valuesKey",
	}, {
		name: "a Secret whose data is not base64 is a finding",
		objects: `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: app}
data: {values.yaml: "not base64!"}`,
		spec:  `  valuesFrom: [{kind: Secret, name: creds}]`,
		field: "spec.valuesFrom[0]",
	}, {
		name: "a targetPath Helm cannot parse is a finding",
		objects: `apiVersion: v1
kind: ConfigMap
metadata: {name: vals, namespace: app}
data: {v: "x"}`,
		spec:  `  valuesFrom: [{kind: ConfigMap, name: vals, valuesKey: v, targetPath: "a[x]"}]`,
		field: "spec.valuesFrom[0]",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hrYAML := hrHead + tc.spec
			hr := parseObjects(t, hrYAML)[0]
			index := map[string]manifest.Object{}
			for _, o := range parseObjects(t, tc.objects) {
				index[o.ID()] = o
			}
			b := &builder{charts: map[string]*loadedChart{}}
			got, ok := b.mergedValues(context.Background(), hr, index)
			if tc.field != "" {
				if ok || len(b.findings) != 1 || b.findings[0].Field != tc.field || b.findings[0].Object != "HelmRelease/app/web" {
					t.Fatalf("ok %v, findings:\n%s\nwant one at %s", ok, findingsText(b.findings), tc.field)
				}
				return
			}
			if !ok || len(b.findings) > 0 {
				t.Fatalf("ok %v, findings:\n%s", ok, findingsText(b.findings))
			}
			tc.check(t, got)
			upYAML := hrYAML
			if tc.stored == nil {
				upYAML = strings.ReplaceAll(upYAML, "}]", ", optional: true}]")
			}
			want, err := upstreamValues(t, upYAML, tc.stored...)
			if err != nil {
				t.Fatalf("upstream: %v", err)
			}
			if !reflect.DeepEqual(map[string]any(want), got) {
				t.Errorf("values\n%#v\nwant what helm-controller composes:\n%#v", got, want)
			}
		})
	}
}

func metaName(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "app"}
}

// TestValuesFromTargetPathThroughTheBuild is the divergence as users met
// it: a ConfigMap's "3" at replicaCount against a schema wanting an
// integer, and an annotation key with an escaped dot.
func TestValuesFromTargetPathThroughTheBuild(t *testing.T) {
	files := map[string]string{
		"charts/knobs/Chart.yaml":  "apiVersion: v2\nname: knobs\nversion: 0.1.0\n",
		"charts/knobs/values.yaml": "replicaCount: 1\npodAnnotations: {}\n",
		"charts/knobs/values.schema.json": `{"type": "object", "properties": {
  "replicaCount": {"type": "integer"},
  "podAnnotations": {"type": "object", "additionalProperties": {"type": "string"}}}}`,
		"charts/knobs/templates/deploy.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: knobs
  annotations: {{ toJson .Values.podAnnotations }}
data:
  replicas: {{ .Values.replicaCount | quote }}
  kind: {{ kindOf .Values.replicaCount | quote }}
`,
		"gitops/apps/values.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: knobs-values, namespace: team}
data: {replicas: "3", note: "hello"}
`,
		"gitops/apps/hr.yaml": localRelease("knobs", "knobs", `  valuesFrom:
    - {kind: ConfigMap, name: knobs-values, valuesKey: replicas, targetPath: replicaCount}
    - {kind: ConfigMap, name: knobs-values, valuesKey: note, targetPath: 'podAnnotations.example\.com/note'}
`),
		"gitops/apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [values.yaml, hr.yaml]\n",
	}
	e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
	if len(e.Findings) > 0 {
		t.Fatalf("findings:\n%s", findingsText(e.Findings))
	}
	cm := find(t, e, "ConfigMap", "team", "knobs")
	if r, k := str(t, cm, "data.replicas"), str(t, cm, "data.kind"); r != "3" || k != "int64" {
		t.Errorf("replicaCount %s of kind %s, want the integer 3 (int64)", r, k)
	}
	if a := cm.GetAnnotations(); a["example.com/note"] != "hello" || len(a) != 1 {
		t.Errorf("annotations %v, want example.com/note: hello", a)
	}
}
