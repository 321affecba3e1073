package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// writeRepo writes files (repository-relative path -> content) to a new
// temporary repository.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// syntheticRepo exercises what the real tree does not: targetNamespace,
// namePrefix, inline substitutions, valuesFrom, a dependsOn to nothing, a
// source that is not the root, and two Kustomizations applying one object.
var syntheticRepo = map[string]string{
	"overlays/test/cluster-vars.env": `
# comment
GREETING=hello
REGISTRY=reg.test:5000
`,
	"overlays/test/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ks.yaml
`,
	"overlays/test/ks.yaml": `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/apps
  prune: true
  targetNamespace: team
  namePrefix: p-
  dependsOn:
    - name: nowhere
  sourceRef:
    kind: OCIRepository
    name: flux-system
  postBuild:
    substitute:
      EXTRA: inline
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
  patches:
    - target:
        kind: ConfigMap
        name: greeting
      patch: |
        - op: add
          path: /data/patched
          value: "yes"
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-again
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/apps
  prune: true
  targetNamespace: team
  namePrefix: p-
  sourceRef:
    kind: OCIRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/charts
  prune: true
  targetNamespace: team
  sourceRef:
    kind: OCIRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: elsewhere
  namespace: flux-system
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef:
    kind: GitRepository
    name: other
`,
	"gitops/apps/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - greeting.yaml
`,
	"gitops/apps/greeting.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
data:
  msg: ${GREETING} ${EXTRA}
`,
	"gitops/charts/release.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-values
data:
  values.yaml: |
    replicas: 2
    name: from-configmap
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: demo
spec:
  interval: 10m
  url: oci://${REGISTRY}/charts/demo
  ref:
    tag: 0.1.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: demo
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: demo
  valuesFrom:
    - kind: ConfigMap
      name: demo-values
  values:
    name: from-spec
  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: ConfigMap
            patch: |
              - op: add
                path: /data/post-rendered
                value: "yes"
`,
	"charts/demo/Chart.yaml": `
apiVersion: v2
name: demo
version: 0.1.0
`,
	"charts/demo/values.yaml": `
replicas: 1
name: default
`,
	"charts/demo/templates/out.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-out
data:
  replicas: {{ .Values.replicas | quote }}
  name: {{ .Values.name | quote }}
`,
}

func TestSyntheticKustomizationFeatures(t *testing.T) {
	root := writeRepo(t, syntheticRepo)
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})

	greeting := find(t, e, "ConfigMap", "team", "p-greeting")
	if got := str(t, greeting, "data.msg"); got != "hello inline" {
		t.Errorf("msg %q: cluster-vars and postBuild.substitute not both applied", got)
	}
	if got := str(t, greeting, "data.patched"); got != "yes" {
		t.Errorf("spec.patches not applied: patched = %q", got)
	}
	if l := greeting.GetLabels(); l["kustomize.toolkit.fluxcd.io/name"] != "apps" || l["kustomize.toolkit.fluxcd.io/namespace"] != "flux-system" {
		t.Errorf("labels %v, want kustomize-controller's owner labels", l)
	}
	if greeting.Origin != (manifest.Origin{File: "gitops/apps/greeting.yaml", Line: 1, Kustomization: "flux-system/apps"}) {
		t.Errorf("origin %+v", greeting.Origin)
	}

	out := find(t, e, "ConfigMap", "team", "demo-out")
	if r, n := str(t, out, "data.replicas"), str(t, out, "data.name"); r != "2" || n != "from-spec" {
		t.Errorf("values: replicas %q name %q, want valuesFrom then spec.values merged over the chart's", r, n)
	}
	if got := str(t, out, "data.post-rendered"); got != "yes" {
		t.Errorf("spec.postRenderers not applied: post-rendered = %q", got)
	}
	if out.Origin.File != "charts/demo/templates/out.yaml" || out.Origin.HelmRelease != "team/demo" || out.Origin.Kustomization != "flux-system/charts" {
		t.Errorf("rendered origin %+v", out.Origin)
	}
	if out.GetLabels()["helm.toolkit.fluxcd.io/name"] != "demo" {
		t.Errorf("labels %v, want helm-controller's origin labels", out.GetLabels())
	}

	want := []manifest.Finding{
		{File: "overlays/test/ks.yaml", Line: 1, Object: "Kustomization/flux-system/apps", Field: "spec.dependsOn[0].name"},
		{File: "overlays/test/ks.yaml", Line: 65, Object: "Kustomization/flux-system/elsewhere", Field: "spec.sourceRef"},
		{File: "gitops/apps/greeting.yaml", Line: 1, Object: "ConfigMap/team/p-greeting"},
	}
	for _, w := range want {
		ok := false
		for _, f := range e.Findings {
			ok = ok || (f.File == w.File && f.Line == w.Line && f.Object == w.Object && f.Field == w.Field)
		}
		if !ok {
			t.Errorf("no finding %s among:\n%s", w, findingsText(e.Findings))
		}
	}
	if len(e.Findings) != len(want) {
		t.Errorf("%d findings, want %d:\n%s", len(e.Findings), len(want), findingsText(e.Findings))
	}
}
