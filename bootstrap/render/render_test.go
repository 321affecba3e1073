package render

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// testChart builds an in-memory chart with a template, a CRD, a hook and a
// test hook.
func testChart() *chart.Chart {
	file := func(name, data string) *common.File {
		return &common.File{Name: name, Data: []byte(data)}
	}
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: "1.0.0", Type: "application"},
		Values:   map[string]any{"greeting": "hello"},
		Schema:   []byte(`{"type":"object","additionalProperties":false,"properties":{"greeting":{"type":"string"}}}`),
		Templates: []*common.File{
			file("templates/cm.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
`),
			file("templates/hook.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
`),
			file("templates/tests/test.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers: [{name: test, image: busybox}]
`),
			file("templates/NOTES.txt", `Hello from {{ .Release.Name }}.`),
		},
		Files: []*common.File{
			file("crds/widgets.yaml", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
`),
		},
	}
}

func TestRenderDefaults(t *testing.T) {
	res, err := Render(context.Background(), testChart(), Options{})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(res.Objects) != 1 {
		t.Fatalf("want 1 object, got %d", len(res.Objects))
	}
	cm := res.Objects[0]
	if cm.GetName() != "demo" || cm.GetNamespace() != DefaultNamespace {
		t.Errorf("release defaults: got %s/%s, want %s/demo", cm.GetNamespace(), cm.GetName(), DefaultNamespace)
	}
	data := cm.Object["data"].(map[string]any)
	if data["greeting"] != "hello" || data["kube"] != DefaultKubeVersion || data["monitoring"] != "false" {
		t.Errorf("data = %v", data)
	}
	if len(res.CRDs) != 0 || strings.Contains(res.Manifest, "CustomResourceDefinition") {
		t.Errorf("CRDs rendered without IncludeCRDs")
	}
	if len(res.Hooks) != 1 || res.Hooks[0].GetKind() != "Job" {
		t.Errorf("hooks = %v, want the pre-install Job only", res.Hooks)
	}
	if !strings.HasPrefix(res.HookManifest, "---\n# Source: demo/templates/") || !strings.Contains(res.HookManifest, "kind: Job") || strings.Count(res.HookManifest, "# Source:") != 1 {
		t.Errorf("hook manifest = %q, want the pre-install Job with its source", res.HookManifest)
	}
	if res.Notes != "Hello from demo." {
		t.Errorf("notes = %q", res.Notes)
	}
}

func TestRenderOptions(t *testing.T) {
	res, err := Render(context.Background(), testChart(), Options{
		ReleaseName: "rel",
		Namespace:   "ns",
		Values:      map[string]any{"greeting": "hi"},
		IncludeCRDs: true,
		KubeVersion: "v1.33.2",
		APIVersions: []string{"monitoring.coreos.com/v1"},
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	var cm map[string]any
	for _, o := range res.Objects {
		if o.GetKind() == "ConfigMap" {
			cm = o.Object
		}
	}
	data := cm["data"].(map[string]any)
	if data["greeting"] != "hi" || data["kube"] != "v1.33.2" || data["monitoring"] != "true" {
		t.Errorf("data = %v", data)
	}
	if len(res.CRDs) != 1 || res.CRDs[0].GetName() != "widgets.example.com" {
		t.Errorf("CRDs = %v", res.CRDs)
	}
	if !strings.HasPrefix(res.Manifest, "---\n# Source: demo/crds/widgets.yaml\n") {
		t.Errorf("manifest does not start with the CRD:\n%s", res.Manifest)
	}
}

// parentChart is testChart with a subchart "sub", enabled by sub.enabled,
// that has its own CRD and a schema requiring sub.size to be a number.
func parentChart() *chart.Chart {
	sub := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "sub", Version: "0.1.0", Type: "application"},
		Values:    map[string]any{"size": 1},
		Schema:    []byte(`{"type":"object","properties":{"size":{"type":"integer"}}}`),
		Templates: []*common.File{{Name: "templates/sub.yaml", Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: sub\n")}},
		Files:     []*common.File{{Name: "crds/gadgets.yaml", Data: []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\n")}},
	}
	parent := testChart()
	parent.Schema = nil
	parent.Values["sub"] = map[string]any{"enabled": false}
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "0.1.0", Condition: "sub.enabled"}}
	parent.SetDependencies(sub)
	return parent
}

func TestRenderSubchartsAndReuse(t *testing.T) {
	ch := parentChart()
	kinds := func(res *Result) string {
		var ks []string
		for _, o := range res.Objects {
			ks = append(ks, o.GetKind())
		}
		return strings.Join(ks, ",")
	}
	enabled := map[string]any{"sub": map[string]any{"enabled": true}}
	badWhileDisabled := map[string]any{"sub": map[string]any{"enabled": false, "size": "big"}}

	// Rendering the same loaded chart with subcharts disabled, then enabled,
	// then disabled again shows that a render does not change the chart.
	for i, tc := range []struct {
		values map[string]any
		kinds  string
		crds   int
	}{
		{nil, "ConfigMap", 1},
		{enabled, "ConfigMap,Service", 2},
		{badWhileDisabled, "ConfigMap", 1},
	} {
		res, err := Render(context.Background(), ch, Options{Values: tc.values, IncludeCRDs: true})
		if err != nil {
			t.Fatalf("render %d: %v", i, err)
		}
		if got := kinds(res); got != tc.kinds {
			t.Errorf("render %d: kinds = %s, want %s", i, got, tc.kinds)
		}
		if len(res.CRDs) != tc.crds {
			t.Errorf("render %d: %d CRDs, want %d", i, len(res.CRDs), tc.crds)
		}
	}

	_, err := Render(context.Background(), ch, Options{Values: map[string]any{"sub": map[string]any{"enabled": true, "size": "big"}}})
	if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), "/size") {
		t.Errorf("enabled subchart's schema not applied: %v", err)
	}
	if len(ch.Dependencies()) != 1 || len(ch.Metadata.Dependencies) != 1 {
		t.Errorf("chart modified by rendering: %d subcharts, %d dependency entries", len(ch.Dependencies()), len(ch.Metadata.Dependencies))
	}
}

func TestRenderErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	badTemplate := testChart()
	badTemplate.Templates = append(badTemplate.Templates, &common.File{Name: "templates/bad.yaml", Data: []byte(`{{ fail "boom" }}`)})

	cases := []struct {
		name  string
		ctx   context.Context
		chart *chart.Chart
		opts  Options
		want  string
		is    error
	}{
		{"no chart", context.Background(), nil, Options{}, "no chart given", nil},
		{"cancelled", cancelled, testChart(), Options{}, `render chart "demo"`, context.Canceled},
		{"kube version", context.Background(), testChart(), Options{KubeVersion: "one"}, `kube version "one"`, nil},
		{"schema", context.Background(), testChart(), Options{Values: map[string]any{"greting": "x"}}, "greting", ErrInvalidValues},
		{"template", context.Background(), badTemplate, Options{}, "boom", nil},
		{"release name", context.Background(), testChart(), Options{ReleaseName: "Not_Valid"}, "release name", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.ctx, tc.chart, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestLoadChartMissing(t *testing.T) {
	_, err := LoadChart(filepath.Join(t.TempDir(), "nothing"))
	if err == nil || !strings.Contains(err.Error(), "load chart") {
		t.Errorf("err = %v, want a load chart error", err)
	}
}

func TestLintReportsFindings(t *testing.T) {
	msgs, err := Lint(ghillieChart, map[string]any{"image": map[string]any{"tagg": "v1"}})
	if err != nil {
		t.Fatalf("Lint: %v", err)
	}
	if HighestSeverity(msgs) != SeverityError {
		t.Fatalf("want an error finding for image.tagg, got %v", msgs)
	}
	found := false
	for _, m := range msgs {
		if m.Severity == SeverityError && strings.Contains(m.String(), "tagg") && strings.HasPrefix(m.String(), "[ERROR] ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error finding names image.tagg: %v", msgs)
	}
	if _, err := Lint(t.TempDir(), nil); err == nil {
		t.Error("Lint of a directory without Chart.yaml: no error")
	}
}

// upstreamChartsDir is the folder of the pinned platform charts' archives
// (see testutil.ChartArchives).
func upstreamChartsDir(t *testing.T) string { return testutil.ChartArchives(t, "../..") }

func TestUpstreamChartsRender(t *testing.T) {
	archives, err := filepath.Glob(filepath.Join(upstreamChartsDir(t), "*.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, archive := range archives {
		t.Run(filepath.Base(archive), func(t *testing.T) {
			ch, err := LoadChart(archive)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Render(context.Background(), ch, Options{Namespace: "platform", IncludeCRDs: true})
			if err != nil {
				t.Fatalf("Render with default values: %v", err)
			}
			if len(res.Objects) == 0 {
				t.Errorf("%s rendered no objects", ch.Name())
			}
			t.Logf("%s %s: %d objects, %d CRDs, %d hooks", ch.Name(), ch.Metadata.Version, len(res.Objects), len(res.CRDs), len(res.Hooks))
		})
	}
}

func TestRenderKeepsHooksThatAlsoRunAtInstall(t *testing.T) {
	hook := func(name, events string) *common.File {
		return &common.File{Name: "templates/" + name + ".yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n")}
	}
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "hooks", Version: "1.0.0"},
		Templates: []*common.File{hook("both", "pre-install,test"), hook("test-only", "test"), hook("helm2-test", "test-success"), hook("install", "post-install")},
	}
	res, err := Render(context.Background(), ch, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range res.Hooks {
		names = append(names, h.GetName())
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "both install" {
		t.Errorf("hooks %v, want both and install: a hook that also runs at install is applied, test-only ones are not", names)
	}
	names = nil
	for _, h := range res.TestHooks {
		names = append(names, h.GetName())
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "helm2-test test-only" {
		t.Errorf("test hooks %v, want helm2-test and test-only", names)
	}
}
