package gitops

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
)

// TestChartVersionAsSourceController follows source-controller v1.9.6's
// internal/helm/repository tests (TestChartRepository_GetChartVersion and
// the OCI tag matching), with the chart cache standing for the index.
func TestChartVersionAsSourceController(t *testing.T) {
	held := []string{"0.0.1", "0.1.0", "0.1.1", "0.1.5+a.min.hour", "0.1.5+b.min.minute", "0.2.0", "1.0.0", "1.1.0-rc.1", "1.8.0-rc.0", "not-a-version"}
	cases := []struct {
		version string
		oci     bool
		want    string
		err     string
	}{
		{version: "0.0.1", want: "0.0.1"},              // exact match
		{version: "", want: "1.0.0"},                   // latest stable
		{version: "*", want: "1.0.0"},                  // latest stable
		{version: "<1.0.0", want: "0.2.0"},             // semver range
		{version: "0.x", want: "0.2.0"},                // x-range
		{version: "0.1.x", want: "0.1.5+b.min.minute"}, // build metadata: the later text
		{version: "0.1.5", want: "0.1.5+b.min.minute"}, // an exact version matches its builds
		{version: ">= 1.0.1-rc.0", want: "1.8.0-rc.0"}, // a range naming a pre-release admits them
		{version: ">= 1.0.1", err: `no version matching ">= 1.0.1"`},
		{version: ">2.0.0", err: `no version matching ">2.0.0" in the chart cache, which holds 0.0.1, 0.1.0`},
		{version: "not a range", err: "neither a version nor a semver range"},
		{version: "3.0.0", want: "3.0.0"},            // exact: for the cache to pull or report
		{version: "3.0.0", oci: true, want: "3.0.0"}, // OCI: a version is taken as it is
		{version: "1.x", oci: true, want: "1.0.0"},   // OCI: tags matched like an index
		{version: "not-a-version", want: "not-a-version"},
	}
	for _, tc := range cases {
		got, err := chartVersion(held, tc.version, tc.oci)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("chartVersion(%q, oci %v) = %q, %v; want error %q", tc.version, tc.oci, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("chartVersion(%q, oci %v) = %q, %v; want %q", tc.version, tc.oci, got, err, tc.want)
		}
	}
	if got, err := chartVersion(nil, "1.x", false); err == nil || !strings.Contains(err.Error(), "holds no version of it") {
		t.Errorf("empty cache: %q, %v; want an error saying the cache holds no version", got, err)
	}
}

// cacheWith is an offline chart cache holding the chart "ranged" at each
// version, each rendering a ConfigMap naming its version.
func cacheWith(t *testing.T, versions ...string) *chartcache.Cache {
	t.Helper()
	c := mustCache(t, t.TempDir())
	for _, v := range versions {
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "ranged", Version: v},
			Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ranged}\ndata: {version: {{ .Chart.Version | quote }}}\n")}},
		}
		if _, err := chartv2util.Save(ch, c.Dir()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestChartVersionRangeResolvedFromTheCache(t *testing.T) {
	release := func(version string) string {
		spec := ""
		if version != "-" {
			spec = "\n      version: '" + version + "'"
		}
		return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: team}
spec: {interval: 10m, url: "https://charts.example.com"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ranged, namespace: team}
spec:
  interval: 10m
  chart:
    spec:
      chart: ranged` + spec + `
      sourceRef: {kind: HelmRepository, name: charts}
`
	}
	cases := []struct{ version, want string }{
		{"1.x", "1.9.0"},
		{">= 1.8.0-rc.0", "2.0.0-rc.1"},
		{"*", "1.9.0"},
		{"-", "1.9.0"}, // no version: the latest stable
		{"1.2.0", "1.2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			repo := writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release(tc.version)}))
			e := build(t, repo, "test", Options{Offline: true, ChartCache: cacheWith(t, "1.2.0", "1.9.0", "2.0.0-rc.1", "0.9.0")})
			if len(e.Findings) > 0 {
				t.Fatalf("findings:\n%s", findingsText(e.Findings))
			}
			if got := str(t, find(t, e, "ConfigMap", "team", "ranged"), "data.version"); got != tc.want {
				t.Errorf("rendered chart version %s, want %s", got, tc.want)
			}
		})
	}

	t.Run("no match", func(t *testing.T) {
		repo := writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release("3.x")}))
		e := build(t, repo, "test", Options{Offline: true, ChartCache: cacheWith(t, "1.2.0", "2.0.0-rc.1")})
		if len(e.Findings) != 1 {
			t.Fatalf("%d findings, want one:\n%s", len(e.Findings), findingsText(e.Findings))
		}
		f := e.Findings[0]
		if f.File != "gitops/apps/hr.yaml" || f.Object != "HelmRelease/team/ranged" || f.Field != "spec.chart.spec.version" ||
			!strings.Contains(f.Message, `"3.x"`) || !strings.Contains(f.Message, "chart ranged") || !strings.Contains(f.Message, "1.2.0, 2.0.0-rc.1") {
			t.Errorf("finding %s: want one naming the range, the chart and what the cache holds", f)
		}
	})
}

// TestOCITagBySemverAsSourceController follows source-controller v1.9.6's
// OCIRepository semver selection (getTagBySemver with filterTags).
func TestOCITagBySemverAsSourceController(t *testing.T) {
	held := []string{"v0.0.59-chart", "v0.0.61-chart", "v0.1.0-chart", "1.0.0", "1.1.0+build.1", "2.0.0-rc.1"}
	cases := []struct{ semver, filter, want, err string }{
		{semver: ">= 1.0.0", want: "1.1.0+build.1"},
		{semver: "1.0.x", want: "1.0.0"},
		{semver: ">= 2.0.0-rc.0", want: "2.0.0-rc.1"},
		{semver: ">= 0.0.1-0", filter: "-chart$", want: "v0.1.0-chart"},
		{semver: ">= 0.0.60-0 < 0.1.0-0", filter: "-chart$", want: "v0.0.61-chart"},
		{semver: "*", filter: "_build", want: "1.1.0+build.1"}, // the filter sees the tag, "+" spelt "_"
		{semver: "> 3.0.0", err: `no version matching semver "> 3.0.0" in the chart cache, which holds v0.0.59-chart`},
		{semver: "bad range", err: "semver 'bad range' parse error"},
		{semver: "*", filter: "(", err: "semverFilter"},
	}
	for _, tc := range cases {
		got, err := ociTagBySemver(held, tc.semver, tc.filter)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ociTagBySemver(%q, %q) = %q, %v; want error %q", tc.semver, tc.filter, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ociTagBySemver(%q, %q) = %q, %v; want %q", tc.semver, tc.filter, got, err, tc.want)
		}
	}
}

func TestOCIRepositorySemverResolvedFromTheCache(t *testing.T) {
	release := func(ref string) string {
		return `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: ranged, namespace: team}
spec: {interval: 10m, url: "oci://reg.example.com/charts/ranged", ref: ` + ref + `}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ranged, namespace: team}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: ranged}
`
	}
	repo := writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release(`{semver: "1.x", tag: "1.2.0"}`)}))
	e := build(t, repo, "test", Options{Offline: true, ChartCache: cacheWith(t, "1.2.0", "1.9.0", "2.0.0")})
	if len(e.Findings) > 0 {
		t.Fatalf("findings:\n%s", findingsText(e.Findings))
	}
	if got := str(t, find(t, e, "ConfigMap", "team", "ranged"), "data.version"); got != "1.9.0" {
		t.Errorf("rendered chart version %s, want 1.9.0 (spec.ref.semver wins over spec.ref.tag)", got)
	}

	repo = writeRepo(t, helmRepo(fluxKustomization("apps"), map[string]string{"gitops/apps/hr.yaml": release(`{semver: "3.x"}`)}))
	e = build(t, repo, "test", Options{Offline: true, ChartCache: cacheWith(t, "1.2.0")})
	if len(e.Findings) != 1 || e.Findings[0].Field != "spec.chartRef.name" || !strings.Contains(e.Findings[0].Message, `"3.x"`) || !strings.Contains(e.Findings[0].Message, "holds 1.2.0") {
		t.Errorf("findings:\n%s\nwant one at spec.chartRef.name naming the range and what the cache holds", findingsText(e.Findings))
	}
}
