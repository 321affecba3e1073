package gitops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// helmRepo is a repository whose environment "test" applies the Flux
// Kustomizations ks (YAML documents, sourced from the root OCIRepository),
// plus the files given.
func helmRepo(ks string, files map[string]string) map[string]string {
	out := map[string]string{
		"overlays/test/cluster-vars.env":   "X=1\n",
		"overlays/test/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [ks.yaml]\n",
		"overlays/test/ks.yaml":            ks,
	}
	for k, v := range files {
		out[k] = v
	}
	return out
}

// fluxKustomization is a Kustomization applying ./gitops/<name>.
func fluxKustomization(name string, dependsOn ...string) string {
	s := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\n" +
		"spec:\n  interval: 10m\n  path: ./gitops/" + name + "\n  prune: true\n  sourceRef: {kind: OCIRepository, name: flux-system}\n"
	for _, d := range dependsOn {
		s += "  dependsOn: [{name: " + d + "}]\n"
	}
	return s
}

// localRelease is a HelmRelease of the repository's chart charts/<chart>
// in namespace team, with its OCIRepository.
func localRelease(name, chart, spec string) string {
	return `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: ` + name + `, namespace: team}
spec:
  interval: 10m
  url: oci://reg.test/charts/` + chart + `
  ref: {tag: 0.1.0}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ` + name + `, namespace: team}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: ` + name + `}
` + spec
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    - name: v0
      served: false
      storage: false
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// guardedChart renders a ConfigMap recording what its templates see.
var guardedChart = map[string]string{
	"charts/guarded/Chart.yaml": "apiVersion: v2\nname: guarded\nversion: 0.1.0\n",
	"charts/guarded/templates/seen.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: seen}
data:
  kind: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  groupVersion: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
  unserved: {{ .Capabilities.APIVersions.Has "example.com/v0" | quote }}
  flux: {{ .Capabilities.APIVersions.Has "helm.toolkit.fluxcd.io/v2/HelmRelease" | quote }}
  builtin: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
  pdb: {{ .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" | quote }}
  removed: {{ .Capabilities.APIVersions.Has "batch/v1beta1/CronJob" | quote }}
  alpha: {{ .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1alpha1/ValidatingAdmissionPolicy" | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
`,
}

func TestCapabilitiesSeeTheEnvironmentsCRDs(t *testing.T) {
	crdChart := map[string]string{
		"charts/widgets/Chart.yaml":         "apiVersion: v2\nname: widgets\nversion: 0.1.0\n",
		"charts/widgets/templates/crd.yaml": widgetCRD,
	}
	cases := []struct {
		name  string
		ks    string
		files map[string]string
		want  string // "true" when the templates see example.com/v1
	}{{
		name: "CRD applied by the manifests",
		ks:   fluxKustomization("crds") + "---\n" + fluxKustomization("apps", "crds"),
		files: map[string]string{
			"gitops/crds/crd.yaml": widgetCRD,
			"gitops/apps/hr.yaml":  localRelease("guarded", "guarded", ""),
		},
		want: "true",
	}, {
		name: "CRD installed by a chart of an earlier Kustomization",
		ks:   fluxKustomization("crds") + "---\n" + fluxKustomization("apps", "crds"),
		files: map[string]string{
			"gitops/crds/hr.yaml": localRelease("widgets", "widgets", ""),
			"gitops/apps/hr.yaml": localRelease("guarded", "guarded", ""),
		},
		want: "true",
	}, {
		name: "CRD installed by a release it depends on, in the same Kustomization",
		ks:   fluxKustomization("apps"),
		files: map[string]string{
			"gitops/apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [widgets.yaml, guarded.yaml]\n",
			"gitops/apps/widgets.yaml":       localRelease("widgets", "widgets", ""),
			"gitops/apps/guarded.yaml":       localRelease("guarded", "guarded", "  dependsOn: [{name: widgets}]\n"),
		},
		want: "true",
	}, {
		name: "CRD installed by a release installed alongside",
		ks:   fluxKustomization("apps"),
		files: map[string]string{
			"gitops/apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [widgets.yaml, guarded.yaml]\n",
			"gitops/apps/widgets.yaml":       localRelease("widgets", "widgets", ""),
			"gitops/apps/guarded.yaml":       localRelease("guarded", "guarded", ""),
		},
		want: "false",
	}, {
		name: "no such CRD",
		ks:   fluxKustomization("apps"),
		files: map[string]string{
			"gitops/apps/hr.yaml": localRelease("guarded", "guarded", ""),
		},
		want: "false",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for _, m := range []map[string]string{guardedChart, crdChart, tc.files} {
				for k, v := range m {
					files[k] = v
				}
			}
			e := build(t, writeRepo(t, helmRepo(tc.ks, files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
			if len(e.Findings) > 0 {
				t.Fatalf("findings:\n%s", findingsText(e.Findings))
			}
			seen := find(t, e, "ConfigMap", "team", "seen")
			for field, want := range map[string]string{"kind": tc.want, "groupVersion": tc.want, "unserved": "false", "flux": "true", "builtin": "true", "pdb": "true", "removed": "false", "alpha": "false"} {
				if got := str(t, seen, "data."+field); got != want {
					t.Errorf("%s: .Capabilities.APIVersions.Has = %s, want %s", field, got, want)
				}
			}
			if got := str(t, seen, "data.kubeVersion"); !strings.Contains(versions.K3sImage, ":"+got+"-k3s") {
				t.Errorf(".Capabilities.KubeVersion.Version = %q, want the version of the pinned k3s image %s", got, versions.K3sImage)
			}
		})
	}
}

func TestCapabilitiesSeeTheChartsOwnCRDs(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "true"},
		{"  install: {crds: Skip}\n", "false"}, // not applied: not served
	} {
		files := map[string]string{
			"charts/guarded/crds/widgets.yaml": widgetCRD,
			"gitops/apps/hr.yaml":              localRelease("guarded", "guarded", tc.spec),
		}
		for k, v := range guardedChart {
			files[k] = v
		}
		e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
		if len(e.Findings) > 0 {
			t.Fatalf("findings:\n%s", findingsText(e.Findings))
		}
		if got := str(t, find(t, e, "ConfigMap", "team", "seen"), "data.kind"); got != tc.want {
			t.Errorf("spec %q: the templates see the chart's own crds/ Widget: %s, want %s", tc.spec, got, tc.want)
		}
	}
}

func TestReleaseDepths(t *testing.T) {
	hrs := parseObjects(t, `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: a, namespace: x}
spec: {dependsOn: [{name: b}, {name: c, namespace: other}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: b, namespace: x}
spec: {dependsOn: [{name: c, namespace: other}, {name: elsewhere}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: c, namespace: other}
spec: {}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: loop1, namespace: x}
spec: {dependsOn: [{name: loop2}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: loop2, namespace: x}
spec: {dependsOn: [{name: loop1}]}
`)
	got := releaseDepths(hrs)
	want := []int{2, 1, 0, 1, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("depths %v, want %v (a after b after c; a cycle cut where it closes)", got, want)
	}
}
