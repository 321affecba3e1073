package gitops

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
)

// TestHelmRepositoryChartValuesFiles follows source-controller v1.9.6's
// remote chart builder (internal/helm/chart/builder_remote.go Build and
// mergeChartValues): the values files of a HelmRepository chart are
// files of the chart, "values.yaml" its defaults, merged in order into the
// chart's values, and the chart's version gets the HelmChart's generation
// (1) as build metadata.
func TestHelmRepositoryChartValuesFiles(t *testing.T) {
	c := mustCache(t, t.TempDir())
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "settings", Version: "1.0.0"},
		Values:   map[string]any{"colour": "blue", "size": "small"},
		Raw:      []*common.File{{Name: "values.yaml", Data: []byte("colour: blue\nsize: small\n")}},
		Files:    []*common.File{{Name: "values-prod.yaml", Data: []byte("size: large\n")}},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n" +
				"  version: {{ .Chart.Version | quote }}\n  colour: {{ .Values.colour | default \"none\" | quote }}\n  size: {{ .Values.size | quote }}\n")}},
	}
	if _, err := chartv2util.Save(ch, c.Dir()); err != nil {
		t.Fatal(err)
	}
	release := func(files string) string {
		return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: team}
spec: {interval: 10m, url: "https://charts.example.com"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: settings, namespace: team}
spec:
  interval: 10m
  chart:
    spec:
      chart: settings
      version: 1.0.0
      sourceRef: {kind: HelmRepository, name: charts}` + files + `
`
	}
	cases := []struct {
		name, files           string
		version, colour, size string
	}{
		{"no values files", "", "1.0.0", "blue", "small"},
		{"defaults then a file", "\n      valuesFiles: [values.yaml, ./values-prod.yaml]", "1.0.0+1", "blue", "large"},
		// Without values.yaml in the list the chart's defaults are gone.
		{"a file alone", "\n      valuesFiles: [values-prod.yaml]", "1.0.0+1", "none", "large"},
		{"missing ignored", "\n      valuesFiles: [values.yaml, absent.yaml]\n      ignoreMissingValuesFiles: true", "1.0.0+1", "blue", "small"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release(tc.files)}))
			e := build(t, repo, "test", Options{Offline: true, ChartCache: c})
			if len(e.Findings) > 0 {
				t.Fatalf("findings:\n%s", findingsText(e.Findings))
			}
			cm := find(t, e, "ConfigMap", "team", "settings")
			for field, want := range map[string]string{"data.version": tc.version, "data.colour": tc.colour, "data.size": tc.size} {
				if got := str(t, cm, field); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		repo := writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release("\n      valuesFiles: [values.yaml, absent.yaml]")}))
		e := build(t, repo, "test", Options{Offline: true, ChartCache: c})
		if len(e.Findings) != 1 {
			t.Fatalf("%d findings, want one:\n%s", len(e.Findings), findingsText(e.Findings))
		}
		f := e.Findings[0]
		if f.Object != "HelmRelease/team/settings" || f.Field != "spec.chart.spec.valuesFiles[1]" || !strings.Contains(f.Message, `"absent.yaml"`) {
			t.Errorf("finding %s: want one naming the values file and its field", f)
		}
	})
}
