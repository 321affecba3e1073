package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// substRepo substitutes from every kind of source kustomize-controller
// reads: the bootstrap cluster-vars ConfigMap, a ConfigMap and a Secret
// (data and stringData) that a later Kustomization applies, a ConfigMap
// and a Secret that only the cluster has (fixtures), an optional one that
// exists nowhere and a required one that exists nowhere.
var substRepo = map[string]string{
	"overlays/test/cluster-vars.env": "GREETING=hello\n",
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
  name: app
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/app
  prune: true
  sourceRef:
    kind: OCIRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: ConfigMap
        name: app-vars
      - kind: Secret
        name: app-secret
      - kind: ConfigMap
        name: from-fixture
      - kind: Secret
        name: fixture-secret
      - kind: ConfigMap
        name: absent
        optional: true
      - kind: ConfigMap
        name: gone
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: vars
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/vars
  prune: true
  sourceRef:
    kind: OCIRepository
    name: flux-system
`,
	"gitops/vars/vars.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-vars
  namespace: flux-system
data:
  COLOR: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: flux-system
data:
  TOKEN: ZnJvbS1kYXRh
  OTHER: b25seS1kYXRh
stringData:
  TOKEN: from-string-data
`,
	"gitops/app/out.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: out
  namespace: default
data:
  greeting: ${GREETING}
  color: ${COLOR}
  token: ${TOKEN}
  other: ${OTHER}
  fixed: ${FIXED}
  fixsecret: ${FIXSECRET}
  gone: ${GONE:=fallback}
`,
}

const substFixtures = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: from-fixture
  namespace: flux-system
data:
  FIXED: from-fixture
---
apiVersion: v1
kind: Secret
metadata:
  name: fixture-secret
  namespace: flux-system
stringData:
  FIXSECRET: fixture-secret
`

func writeFixtures(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSubstituteFromEnvironmentAndFixtures(t *testing.T) {
	root := writeRepo(t, substRepo)
	fixtures := writeFixtures(t, map[string]string{"cluster.yaml": substFixtures})
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir()), Fixtures: fixtures})

	out := find(t, e, "ConfigMap", "default", "out")
	for field, want := range map[string]string{
		"data.greeting":  "hello",            // bootstrap's cluster-vars
		"data.color":     "blue",             // a ConfigMap a later Kustomization applies
		"data.token":     "from-string-data", // stringData wins over data, as the API server stores it
		"data.other":     "only-data",
		"data.fixed":     "from-fixture", // fixtures
		"data.fixsecret": "fixture-secret",
		"data.gone":      "fallback", // the missing ConfigMap contributes nothing
	} {
		if got := str(t, out, field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	// Only the required ConfigMap that exists nowhere is a finding; the
	// optional one is skipped as fluxcd/pkg/kustomize skips a NotFound
	// optional reference.
	if len(e.Findings) != 1 {
		t.Fatalf("%d findings, want 1:\n%s", len(e.Findings), findingsText(e.Findings))
	}
	f := e.Findings[0]
	if f.File != "overlays/test/ks.yaml" || f.Line != 1 || f.Object != "Kustomization/flux-system/app" ||
		f.Field != "spec.postBuild.substituteFrom[6]" || !strings.Contains(f.Message, "ConfigMap flux-system/gone does not exist") {
		t.Errorf("finding %s, want the missing ConfigMap gone at spec.postBuild.substituteFrom[6]", f)
	}
	if len(e.Fixtures) != 2 {
		t.Errorf("environment carries %d fixtures, want 2", len(e.Fixtures))
	}
}

func TestSubstituteFromMissingSourcesKeepsObjects(t *testing.T) {
	root := writeRepo(t, substRepo)
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})

	// Without the fixtures, three required sources are missing: three
	// findings on the Kustomization, and a variable they would have given
	// is unset (strict substitution stops at the first: one finding on the
	// object).
	want := map[string]bool{
		"Kustomization/flux-system/app spec.postBuild.substituteFrom[3]": true,
		"Kustomization/flux-system/app spec.postBuild.substituteFrom[4]": true,
		"Kustomization/flux-system/app spec.postBuild.substituteFrom[6]": true,
		"ConfigMap/default/out ": true,
	}
	for _, f := range e.Findings {
		if !want[f.Object+" "+f.Field] {
			t.Errorf("unexpected finding %s", f)
		}
	}
	if len(e.Findings) != 4 {
		t.Errorf("%d findings, want 4:\n%s", len(e.Findings), findingsText(e.Findings))
	}
	// The objects are built and substituted with what is available, not
	// left out.
	out := find(t, e, "ConfigMap", "default", "out")
	if got := str(t, out, "data.color"); got != "blue" {
		t.Errorf("color = %q, want blue: the available sources still apply", got)
	}
}

func TestFixturesErrors(t *testing.T) {
	root := writeRepo(t, substRepo)
	for name, tc := range map[string]struct{ file, want string }{
		"malformed":   {"a: [\n", "fixtures file "},
		"no name":     {"apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "needs apiVersion, kind and metadata.name"},
		"no ns":       {"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "Secret/s has no metadata.namespace"},
		"bad secret":  {"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\ndata: {k: '%%'}\n", "Secret/a/s"},
		"cluster-var": {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-vars, namespace: flux-system}\n", "cluster-vars.env"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFixtures(t, map[string]string{"bad.yaml": tc.file})
			_, err := Build(context.Background(), root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir()), Fixtures: dir})
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.yaml")) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, filepath.Join(dir, "bad.yaml"), tc.want)
			}
		})
	}
	dir := writeFixtures(t, map[string]string{"a.yaml": substFixtures, "b.yaml": substFixtures})
	if _, err := ReadFixtures(dir); err == nil || !strings.Contains(err.Error(), "also given in") {
		t.Errorf("err = %v, want the object given twice", err)
	}
}

// TestSubstituteFromWhatOnlyItselfApplies: kustomize-controller substitutes
// before it applies, so a Kustomization cannot read a ConfigMap that only
// it, or a Kustomization it creates, applies: it would wait forever. The
// sibling that reads the same ConfigMap is fine.
func TestSubstituteFromWhatOnlyItselfApplies(t *testing.T) {
	ks := func(name, path string) string {
		return `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ` + name + `, namespace: flux-system}
spec:
  interval: 10m
  path: ` + path + `
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
  postBuild:
    substituteFrom:
      - {kind: ConfigMap, name: cluster-vars}
      - {kind: ConfigMap, name: own-vars}
`
	}
	root := writeRepo(t, map[string]string{
		"overlays/test/cluster-vars.env": "A=b\n",
		// parent creates child, which applies own-vars; parent needs it.
		"overlays/test/ks.yaml": ks("parent", "./gitops/parent") + "---\n" + ks("sibling", "./gitops/sibling"),
		"gitops/parent/child.yaml": `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: child, namespace: flux-system}
spec:
  interval: 10m
  path: ./gitops/child
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
`,
		"gitops/child/vars.yaml": `
apiVersion: v1
kind: ConfigMap
metadata: {name: own-vars, namespace: flux-system}
data: {COLOR: blue}
`,
		"gitops/sibling/out.yaml": `
apiVersion: v1
kind: ConfigMap
metadata: {name: out, namespace: default}
data: {color: "${COLOR}"}
`,
	})
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
	if got := str(t, find(t, e, "ConfigMap", "default", "out"), "data.color"); got != "blue" {
		t.Errorf("sibling: color = %q, want blue", got)
	}
	if len(e.Findings) != 1 {
		t.Fatalf("%d findings, want 1:\n%s", len(e.Findings), findingsText(e.Findings))
	}
	f := e.Findings[0]
	if f.Object != "Kustomization/flux-system/parent" || f.Field != "spec.postBuild.substituteFrom[1]" ||
		!strings.Contains(f.Message, "applied by Kustomization flux-system/child") || !strings.Contains(f.Message, "forever") {
		t.Errorf("finding %s, want the parent waiting forever for own-vars", f)
	}
}
