package render

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// sameRelease renders ch both ways, the direct render and Helm's install
// action, and fails unless both give the same manifest, notes, objects and
// hooks. It returns whether the direct render handled the chart.
func sameRelease(t *testing.T, ch *chart.Chart, opts Options) bool {
	t.Helper()
	if opts.ReleaseName == "" {
		opts.ReleaseName = ch.Name()
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Values == nil {
		opts.Values = map[string]any{}
	}
	kv, err := common.ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderInstall(context.Background(), cloneChart(ch), opts.Values, opts, kv)
	if err != nil {
		t.Fatalf("install render: %v", err)
	}
	got, ok := renderDirect(cloneChart(ch), opts.Values, opts, kv)
	if !ok {
		return false
	}
	if got.manifest != want.manifest {
		t.Errorf("manifests differ:\n%s", lineDiff(want.manifest, got.manifest))
	}
	if got.notes != want.notes {
		t.Errorf("notes: got %q, want %q", got.notes, want.notes)
	}
	if !reflect.DeepEqual(got.objects, want.objects) {
		t.Errorf("objects differ: got %d, want %d", len(got.objects), len(want.objects))
	}
	if !reflect.DeepEqual(got.hooks, want.hooks) {
		t.Errorf("hooks differ:\ngot  %+v\nwant %+v", got.hooks, want.hooks)
	}
	if !reflect.DeepEqual(got.chart.Dependencies(), want.chart.Dependencies()) {
		t.Error("the rendered charts' subcharts differ")
	}
	return true
}

// TestDirectRenderMatchesInstall: the render that parses each document once
// gives what Helm's install action gives, for the repository's chart with
// each environment's values, the upstream platform charts, and a chart with
// hooks, notes and documents of many kinds.
func TestDirectRenderMatchesInstall(t *testing.T) {
	ghillie := loadGhillie(t)
	for _, env := range chartCases {
		t.Run("ghillie/"+env.name, func(t *testing.T) {
			if !sameRelease(t, ghillie, Options{Namespace: env.namespace, Values: readValues(t, env.values)}) {
				t.Fatal("the direct render fell back to the install action")
			}
		})
	}
	t.Run("hooks", func(t *testing.T) {
		ch := testChart()
		file := func(name, data string) *common.File { return &common.File{Name: name, Data: []byte(data)} }
		ch.Templates = append(ch.Templates,
			file("templates/many.yaml", "# a comment only\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dep}\n---\napiVersion: example.com/v1\nkind: Zebra\nmetadata:\n  name: z\n---\napiVersion: example.com/v1\nkind: Aardvark\nmetadata:\n  name: a\n  annotations: {x: \"y\"}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n"),
			file("templates/hooks.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h1\n  annotations:\n    helm.sh/hook: post-install, PRE-UPGRADE\n    helm.sh/hook-weight: \"5\"\n    helm.sh/hook-delete-policy: before-hook-creation,Hook-Succeeded\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: h2\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: x\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: unknown\n  annotations:\n    helm.sh/hook: someday\n"),
			file("templates/_helpers.tpl", `{{- define "x" }}kind: Nothing{{ end }}`),
			file("templates/empty.yaml", "\n\n"),
			file("charts/sub/templates/NOTES.txt", "not the chart's notes"),
		)
		if !sameRelease(t, ch, Options{}) {
			t.Fatal("the direct render fell back to the install action")
		}
	})

	dir := upstreamChartsDir(t)
	archives, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(archives) == 0 {
		t.Logf("no chart archives in %s: upstream charts not compared", dir)
	}
	for _, archive := range archives {
		t.Run(filepath.Base(archive), func(t *testing.T) {
			ch, err := LoadChart(archive)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRelease(t, ch, Options{Namespace: "platform"}) {
				t.Log("the direct render fell back to the install action")
			}
		})
	}
}

// TestDirectRenderFallsBack: where Helm's install action would read a
// document differently or fail, the direct render declines, and Render
// reports Helm's own error.
func TestDirectRenderFallsBack(t *testing.T) {
	cases := map[string]string{
		"annotation not a string":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    n: 1\n",
		"name not a string":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 7\n",
		"annotation YAML reads as a bool": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {x: y}\n",
		"kind spelt twice":                "apiVersion: v1\nkind: ConfigMap\nKind: Secret\nmetadata:\n  name: a\n",
		"a list":                          "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n",
		"separator inside":                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n------\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			ch := testChart()
			ch.Templates = append(ch.Templates, &common.File{Name: "templates/odd.yaml", Data: []byte(doc)})
			kv, _ := common.ParseKubeVersion(DefaultKubeVersion)
			opts := Options{ReleaseName: "demo", Namespace: DefaultNamespace, Values: map[string]any{}}
			if _, ok := renderDirect(cloneChart(ch), opts.Values, opts, kv); ok {
				t.Fatal("the direct render handled a document Helm reads differently")
			}
			want, wantErr := renderInstall(context.Background(), cloneChart(ch), opts.Values, opts, kv)
			res, err := Render(context.Background(), ch, opts)
			if (err == nil) != (wantErr == nil) || err != nil && !strings.Contains(err.Error(), wantErr.Error()) {
				t.Fatalf("Render error %v, install action error %v", err, wantErr)
			}
			if err == nil && res.Manifest != want.manifest {
				t.Errorf("Render's manifest is not the install action's:\n%s", lineDiff(want.manifest, res.Manifest))
			}
		})
	}
}

// capabilitiesChart writes which API versions its templates see.
var capabilitiesChart = &chart.Chart{
	Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "caps", Version: "0.1.0", Type: "application"},
	Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: caps}
data:
  batchV1beta1: {{ .Capabilities.APIVersions.Has "batch/v1beta1" | quote }}
  policyV1: {{ .Capabilities.APIVersions.Has "policy/v1" | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
`)}},
}

// TestExactAPIVersionsReplaceHelmsDefaults: with ExactAPIVersions the
// templates see the versions given and nothing else, in the direct render
// and in Helm's install action alike; without it, Helm's defaults too.
func TestExactAPIVersionsReplaceHelmsDefaults(t *testing.T) {
	given := []string{"policy/v1", "example.com/v1", "example.com/v1/Widget"}
	for _, tc := range []struct {
		exact bool
		want  map[string]any
	}{
		{true, map[string]any{"batchV1beta1": "false", "policyV1": "true", "widgets": "true"}},
		{false, map[string]any{"batchV1beta1": "true", "policyV1": "true", "widgets": "true"}},
	} {
		opts := Options{APIVersions: given, ExactAPIVersions: tc.exact}
		if !sameRelease(t, capabilitiesChart, opts) {
			t.Fatal("the direct render refused a plain chart")
		}
		res, err := Render(context.Background(), capabilitiesChart, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Objects[0].Object["data"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("exact=%t: templates saw %v, want %v", tc.exact, got, tc.want)
		}
	}
	// The install action's defaults are restored after an exact render.
	if !common.DefaultCapabilities.APIVersions.Has("batch/v1beta1") {
		t.Error("Helm's default capabilities were left changed")
	}
}
