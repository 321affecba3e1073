package validate

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// reportRun is one validate run's inputs, over copies the test may change.
type reportRun struct {
	root, source, fixtures string
	opts                   gitops.Options
	targets                []gitops.Target
}

// newReportRun copies a valid repository (an ArtifactGenerator, a chart
// read from its artifact), a second source and a fixtures folder.
func newReportRun(t *testing.T) *reportRun {
	t.Helper()
	r := &reportRun{root: t.TempDir(), source: t.TempDir(), fixtures: t.TempDir()}
	if err := os.CopyFS(r.root, os.DirFS("../gitops/testdata/repos/generator")); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, r.source, "unused.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	writeTestFile(t, r.fixtures, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fixture, namespace: podinfo}\n")
	cache, err := chartcache.New(t.TempDir(), chartcache.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, cache.Dir(), "placeholder", "x")
	r.opts = gitops.Options{
		Offline:    true,
		ChartCache: cache,
		Sources:    map[gitops.SourceRef]string{{Kind: "GitRepository", Namespace: "team", Name: "other"}: r.source},
		Fixtures:   r.fixtures,
	}
	r.targets = []gitops.Target{{Path: "clusters/dev"}}
	return r
}

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// validate runs ValidateCached and reports whether the report came from
// the cache and whether a Checker was made (the run built and checked).
func (r *reportRun) validate(t *testing.T, cache render.ResultCache) (rep *Report, cached, built bool) {
	t.Helper()
	newChecker := func() (*Checker, error) {
		built = true
		return NewChecker()
	}
	rep, cached, err := ValidateCached(context.Background(), newChecker, r.root, r.targets, r.opts, cache)
	if err != nil {
		t.Fatal(err)
	}
	if cached == built {
		t.Fatalf("cached %t but built %t", cached, built)
	}
	return rep, cached, built
}

// TestReportCacheHitsOnlyWhenNothingChanged: a clean report is reused for
// an unchanged run, and every input it reads, changed, makes the run build
// and check again.
func TestReportCacheHitsOnlyWhenNothingChanged(t *testing.T) {
	r := newReportRun(t)
	cache := &testutil.CountingCache{}
	first, cached, _ := r.validate(t, cache)
	if cached || !first.Clean() {
		t.Fatalf("first run: cached %t, findings %v", cached, first.Findings)
	}
	again, cached, _ := r.validate(t, cache)
	if !cached {
		t.Fatal("an unchanged run built again")
	}
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("the cached report %+v differs from the run's %+v", again, first)
	}

	changes := []struct {
		name   string
		change func()
	}{
		{"a byte of a manifest", func() {
			testutil.Edit(t, r.root, "charts/greeter/values.yaml", "hello", "hellO")
		}},
		{"a new file", func() { writeTestFile(t, r.root, "apps/new.txt", "x") }},
		{"a link's target", func() {
			if err := os.Symlink("a", filepath.Join(r.root, "link")); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file of a --source folder", func() { writeTestFile(t, r.source, "unused.yaml", "changed") }},
		{"a fixture", func() {
			writeTestFile(t, r.fixtures, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fixture2, namespace: podinfo}\n")
		}},
		{"the chart cache", func() {
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(filepath.Join(r.opts.ChartCache.Dir(), "placeholder"), later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{"a source's folder", func() {
			r.opts.Sources = map[gitops.SourceRef]string{{Kind: "GitRepository", Namespace: "team", Name: "other"}: r.fixtures}
		}},
		{"a revision", func() {
			r.opts.Revisions = map[gitops.SourceRef]string{{Kind: "GitRepository", Namespace: "team", Name: "other"}: "main@sha1:0123456789ab"}
		}},
		{"the render limits", func() { r.opts.RenderLimits.Timeout = 7 * time.Second }},
		{"the targets", func() { r.targets = []gitops.Target{{Path: "clusters/dev"}, {Path: "clusters/dev/flux-system"}} }},
	}
	for _, c := range changes {
		c.change()
		if _, cached, _ := r.validate(t, cache); cached {
			t.Errorf("after changing %s the report came from the cache", c.name)
		}
		if _, cached, _ := r.validate(t, cache); !cached {
			t.Errorf("after changing %s, the next unchanged run built again", c.name)
		}
	}
}

// TestReportKeyHashesVariables: --var (which only environments of the
// overlays/ layout take) is part of the key.
func TestReportKeyHashesVariables(t *testing.T) {
	r := newReportRun(t)
	var keys [][sha256.Size]byte
	for _, vars := range []map[string]string{nil, {"A": "1"}, {"A": "2"}, {"B": "2"}} {
		r.opts.Vars = vars
		k, err := gitops.RunKey(reportFormat, r.root, r.targets, r.opts)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(keys, k) {
			t.Errorf("vars %v: the same key as other variables", vars)
		}
		keys = append(keys, k)
	}
}

// TestReportCacheKeepsOnlyCleanReports: a run with findings is never
// stored, so it is always built and checked.
func TestReportCacheKeepsOnlyCleanReports(t *testing.T) {
	r := newReportRun(t)
	testutil.Edit(t, r.root, "clusters/dev/greeter.yaml", "name: greeter-chart", "name: missing-chart")
	cache := &testutil.CountingCache{}
	for range 2 {
		rep, cached, _ := r.validate(t, cache)
		if cached || rep.Clean() {
			t.Fatalf("cached %t, findings %v: want a built report with findings", cached, rep.Findings)
		}
	}
	if cache.Len() != 0 {
		t.Errorf("a report with findings was stored")
	}
}
