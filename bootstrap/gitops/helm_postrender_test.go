package gitops

import (
	"strings"
	"testing"
)

// hookedChart has a template, a pre-install hook, a test hook, and in its
// crds/ directory a CustomResourceDefinition and a ConfigMap.
var hookedChart = map[string]string{
	"charts/hooked/Chart.yaml": "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
	"charts/hooked/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: plain, labels: {own: "yes"}}
`,
	"charts/hooked/templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  labels: {app: migrate}
  annotations: {helm.sh/hook: pre-install, helm.sh/hook-weight: "-1"}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "busybox:1.36"}]
`,
	"charts/hooked/templates/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: smoke
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: smoke, image: "busybox:1.36"}]
`,
	"charts/hooked/crds/widgets.yaml": widgetCRD + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-crd}
`,
}

func TestHooksAndCRDsAsHelmControllerInstallsThem(t *testing.T) {
	const post = `  commonMetadata:
    labels: {team: a, helm.toolkit.fluxcd.io/name: common}
    annotations: {owner: a}
  postRenderers:
    - kustomize:
        patches:
          - target: {kind: Job}
            patch: |
              - op: add
                path: /metadata/labels/patched
                value: "yes"
`
	cases := []struct {
		strategy   string
		hookLabels bool // the hook is post-rendered
	}{{"", true}, {"combined", true}, {"separate", true}, {"nohooks", false}}
	for _, tc := range cases {
		t.Run("strategy "+tc.strategy, func(t *testing.T) {
			spec := post
			if tc.strategy != "" {
				spec += "  postRenderStrategy: " + tc.strategy + "\n"
			}
			files := map[string]string{"gitops/apps/hr.yaml": localRelease("hooked", "hooked", spec)}
			for k, v := range hookedChart {
				files[k] = v
			}
			e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
			if len(e.Findings) > 0 {
				t.Fatalf("findings:\n%s", findingsText(e.Findings))
			}
			origin := func(labels map[string]string) bool {
				return labels["helm.toolkit.fluxcd.io/name"] == "hooked" && labels["helm.toolkit.fluxcd.io/namespace"] == "team"
			}

			plain := find(t, e, "ConfigMap", "team", "plain")
			if l := plain.GetLabels(); !origin(l) || l["team"] != "a" || l["own"] != "yes" || plain.GetAnnotations()["owner"] != "a" {
				t.Errorf("template labels %v annotations %v: want its own, commonMetadata's and the origin labels (winning)", l, plain.GetAnnotations())
			}

			job := find(t, e, "Job", "team", "migrate")
			if job.GetAnnotations()["helm.sh/hook"] != "pre-install" {
				t.Errorf("hook annotations %v: want helm.sh/hook kept", job.GetAnnotations())
			}
			if job.Origin.File != "charts/hooked/templates/job.yaml" || job.Origin.HelmRelease != "team/hooked" {
				t.Errorf("hook origin %+v", job.Origin)
			}
			l := job.GetLabels()
			if got := origin(l) && l["patched"] == "yes" && l["team"] == "a"; got != tc.hookLabels {
				t.Errorf("hook labels %v: post-rendered %v, want %v", l, got, tc.hookLabels)
			}

			for _, o := range e.Objects {
				if o.GetName() == "smoke" || o.GetName() == "not-a-crd" {
					t.Errorf("%s: a test hook and a non-CRD from crds/ are not applied by helm-controller", o.ID())
				}
			}
			crd := find(t, e, "CustomResourceDefinition", "", "widgets.example.com")
			if l := crd.GetLabels(); !origin(l) || len(l) != 2 {
				t.Errorf("crds/ CRD labels %v: want the origin labels only (not post-rendered)", l)
			}
			if len(crd.GetAnnotations()) != 0 {
				t.Errorf("crds/ CRD annotations %v: want none", crd.GetAnnotations())
			}
		})
	}

	t.Run("install.disableHooks", func(t *testing.T) {
		files := map[string]string{"gitops/apps/hr.yaml": localRelease("hooked", "hooked", "  install: {disableHooks: true}\n")}
		for k, v := range hookedChart {
			files[k] = v
		}
		e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
		if len(e.Findings) > 0 {
			t.Fatalf("findings:\n%s", findingsText(e.Findings))
		}
		find(t, e, "ConfigMap", "team", "plain")
		for _, o := range e.Objects {
			if o.GetName() == "migrate" {
				t.Errorf("%s: helm-controller installs without hooks when spec.install.disableHooks is set", o.ID())
			}
		}
	})

	t.Run("a hook repeating a template", func(t *testing.T) {
		for _, tc := range []struct{ strategy, field, hook string }{
			{"", "-", "pre-install"}, {"combined", "-", "pre-install"}, {"separate", "", "pre-install"}, {"nohooks", "", "pre-install"},
			{"", "-", "test"}, // test hooks are post-rendered too, though never installed
		} {
			spec := ""
			if tc.strategy != "" {
				spec = "  postRenderStrategy: " + tc.strategy + "\n"
			}
			files := map[string]string{
				"gitops/apps/hr.yaml": localRelease("hooked", "hooked", spec),
				"charts/hooked/templates/sa.yaml": `apiVersion: v1
kind: ServiceAccount
metadata: {name: migrate}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: migrate
  annotations: {helm.sh/hook: ` + tc.hook + `}
`,
			}
			for k, v := range hookedChart {
				files[k] = v
			}
			e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
			if tc.field == "" {
				if len(e.Findings) > 0 {
					t.Errorf("strategy %q, %s hook: findings:\n%s\nwant none: hooks are post-rendered apart", tc.strategy, tc.hook, findingsText(e.Findings))
				}
				continue
			}
			if len(e.Findings) != 1 || e.Findings[0].Field != "" || e.Findings[0].Object != "HelmRelease/team/hooked" ||
				!strings.Contains(e.Findings[0].Message, "already registered id: v1 ServiceAccount default/migrate") {
				t.Errorf("strategy %q, %s hook: findings:\n%s\nwant one: helm-controller's post-renderer refuses the repeated identity", tc.strategy, tc.hook, findingsText(e.Findings))
			}
		}
	})

	t.Run("unknown strategy", func(t *testing.T) {
		files := map[string]string{"gitops/apps/hr.yaml": localRelease("hooked", "hooked", "  postRenderStrategy: later\n")}
		for k, v := range hookedChart {
			files[k] = v
		}
		e := build(t, writeRepo(t, helmRepo(fluxKustomization("apps"), files)), "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
		if len(e.Findings) != 1 || e.Findings[0].Field != "spec.postRenderStrategy" || e.Findings[0].Object != "HelmRelease/team/hooked" {
			t.Errorf("findings:\n%s\nwant one at spec.postRenderStrategy", findingsText(e.Findings))
		}
	})
}
