package gitops

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/resultcache"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// TestResultsCacheFollowsTheEnvironment changes what an environment feeds
// a release (a substitution variable in the values, a CRD elsewhere in the
// environment, a byte of the chart, a post-renderer, the Kustomization
// applying it) and requires each build with the result cache to make the
// release again (and render again when the render's inputs changed) and
// equal a build without it.
func TestResultsCacheFollowsTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	rc, err := resultcache.Open(dir, resultcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	chartFiles := map[string]string{}
	for k, v := range guardedChart {
		chartFiles[k] = v
	}
	chartFiles["charts/guarded/templates/greeting.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: greeting}\ndata: {greeting: {{ .Values.greeting | quote }}}\n"
	apps := fluxKustomization("apps", "crds") + "  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: cluster-vars}]\n"
	ks := fluxKustomization("crds") + "---\n" + apps
	release := localRelease("guarded", "guarded", "  values: {greeting: \"x is ${X}\"}\n")
	repo := func(edit func(files map[string]string)) string {
		files := map[string]string{"gitops/apps/hr.yaml": release, "gitops/crds/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: placeholder, namespace: team}\n"}
		for k, v := range chartFiles {
			files[k] = v
		}
		if edit != nil {
			edit(files)
		}
		return writeRepo(t, helmRepo(ks, files))
	}
	objects := func(t *testing.T, root string, opts Options) string {
		t.Helper()
		opts.Offline, opts.ChartCache = true, mustCache(t, t.TempDir())
		e := build(t, root, "test", opts)
		if len(e.Findings) > 0 {
			t.Fatalf("findings:\n%s", findingsText(e.Findings))
		}
		data, err := json.Marshal(e.Objects)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	baseRoot := repo(nil)
	base := objects(t, baseRoot, Options{})
	warmup := &testutil.CountingCache{Backing: rc}
	if got := objects(t, baseRoot, Options{Results: warmup}); got != base || warmup.Puts() != 2 {
		t.Fatalf("first build with the cache: %d stores, want 2 (the render and the release); equal to a build without: %v", warmup.Puts(), got == base)
	}
	again := &testutil.CountingCache{Backing: rc}
	if got := objects(t, repo(nil), Options{Results: again}); got != base || again.Hits() != 1 || again.Puts() != 0 {
		t.Fatalf("the same environment again: %d hits, %d stores, equal: %v; want the release read back", again.Hits(), again.Puts(), got == base)
	}

	for _, tc := range []struct {
		name string
		root string
		opts Options
		// hits is 1 when the render is unchanged and only the release is
		// made again from it.
		hits int
	}{
		{"a substitution variable in the values", baseRoot, Options{Vars: map[string]string{"X": "2"}}, 0},
		{"a CRD in the environment", repo(func(f map[string]string) { f["gitops/crds/crd.yaml"] = widgetCRD }), Options{}, 0},
		{"a chart byte", repo(func(f map[string]string) {
			f["charts/guarded/templates/greeting.yaml"] = strings.Replace(f["charts/guarded/templates/greeting.yaml"], "{greeting:", "{greetinG:", 1)
		}), Options{}, 0},
		{"a post-renderer", repo(func(f map[string]string) {
			f["gitops/apps/hr.yaml"] += "  postRenderers:\n  - kustomize:\n      patches:\n      - target: {kind: ConfigMap, name: greeting}\n        patch: |\n          - {op: add, path: /metadata/labels, value: {patched: \"yes\"}}\n"
		}), Options{}, 1},
		{"the Kustomization applying the release", repo(func(f map[string]string) {
			f["overlays/test/ks.yaml"] = strings.ReplaceAll(ks, "name: apps,", "name: apps2,")
		}), Options{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := objects(t, tc.root, tc.opts)
			if fresh == base {
				t.Fatal("the change does not change the build: the case proves nothing")
			}
			c := &testutil.CountingCache{Backing: rc}
			opts := tc.opts
			opts.Results = c
			if got := objects(t, tc.root, opts); got != fresh || c.Hits() != tc.hits || c.Puts() != 2-tc.hits {
				t.Fatalf("with the cache: %d hits, %d stores, equal to a build without: %v; want %d hits, %d stores, equal", c.Hits(), c.Puts(), got == fresh, tc.hits, 2-tc.hits)
			}
		})
	}
}
