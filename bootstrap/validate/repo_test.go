package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// TestMain makes every HTTP request through the default transport, every
// DNS lookup and every run of git fail the run (see guardNetwork):
// validation must never use the network.
func TestMain(m *testing.M) {
	gitRan := guardNetwork()
	code := m.Run()
	if n := networkAttempts.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d network attempts; validation must work offline\n", n)
		code = 1
	}
	if gitRan() {
		fmt.Fprintln(os.Stderr, "FAIL: git ran; validation must not clone anything")
		code = 1
	}
	if seeded.dir != "" && os.Getenv(chartcache.EnvDir) == "" {
		os.RemoveAll(seeded.dir)
	}
	os.Exit(code)
}

// chartsEnv overrides where the upstream chart archives for the tests are.
const chartsEnv = "GITOPS_LOCAL_TESTDATA_CHARTS"

var seeded struct {
	once  sync.Once
	dir   string
	cache *chartcache.Cache
	err   error
	skip  string
}

// chartCache returns an offline cache holding every pinned platform chart:
// GITOPS_LOCAL_CHART_CACHE when set (used as it is), else a temporary cache
// seeded once from the upstream archives in ../shared/testdata/charts next to
// the repository (GITOPS_LOCAL_TESTDATA_CHARTS overrides). It skips the test
// when neither is available.
func chartCache(tb testing.TB) *chartcache.Cache {
	tb.Helper()
	seeded.once.Do(func() {
		if dir := os.Getenv(chartcache.EnvDir); dir != "" {
			seeded.dir = dir
			seeded.cache, seeded.err = chartcache.New(dir, chartcache.WithOffline(true))
			return
		}
		src := os.Getenv(chartsEnv)
		if src == "" {
			src = filepath.Join(repoRoot, "..", "shared", "testdata", "charts")
		}
		if _, err := os.Stat(src); err != nil {
			seeded.skip = fmt.Sprintf("needs the upstream chart archives: set %s to a folder of <chart>-<version>.tgz, or %s to a warm chart cache (%v)", chartsEnv, chartcache.EnvDir, err)
			return
		}
		dir, err := os.MkdirTemp("", "gitops-local-validate-charts-")
		if err != nil {
			seeded.err = err
			return
		}
		seeded.dir = dir
		c, err := chartcache.New(dir, chartcache.WithOffline(true))
		if err != nil {
			seeded.err = err
			return
		}
		for _, ch := range versions.Charts {
			ref := chartcache.Ref{Name: ch.Name, Version: ch.Version, Repository: ch.Repository}
			data, err := os.ReadFile(filepath.Join(src, ch.Name+"-"+ch.Version+".tgz"))
			if err != nil {
				seeded.skip = fmt.Sprintf("needs the upstream archive of %s in %s: %v", ref, src, err)
				return
			}
			if err := c.Put(ref, data); err != nil {
				seeded.err = fmt.Errorf("seeding %s: %w", ref, err)
				return
			}
		}
		seeded.cache = c
	})
	if seeded.skip != "" {
		tb.Skip(seeded.skip)
	}
	if seeded.err != nil {
		tb.Fatal(seeded.err)
	}
	return seeded.cache
}

// copyRepo copies the published tree (gitops/, overlays/, charts/) of the
// repository into a temporary folder.
func copyRepo(tb testing.TB) string {
	tb.Helper()
	return testutil.CopyRepo(tb, repoRoot)
}

func validateRepo(tb testing.TB, root string, envs ...string) *Report {
	tb.Helper()
	r, err := testChecker(tb).Validate(context.Background(), root, envs, gitops.Options{Offline: true, ChartCache: chartCache(tb)})
	if err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	return r
}

// TestRepositoryValidatesClean validates every environment of this
// repository, charts rendered, and expects no finding.
func TestRepositoryValidatesClean(t *testing.T) {
	r := validateRepo(t, repoRoot)
	if len(r.Environments) < 4 {
		t.Errorf("validated %v, want every environment (local, ephemeral/pr-123, staging, production)", r.Environments)
	}
	if !r.Clean() {
		t.Errorf("want no findings, got %d:\n%s", len(r.Findings), join(r.Findings))
	}
}

// edit is one change to a file of the copied repository.
type edit struct {
	file     string
	old, new string // replace the first old with new; old "" creates file with new
}

func apply(t *testing.T, root string, edits []edit) {
	t.Helper()
	for _, e := range edits {
		p := filepath.Join(root, e.file)
		if e.old == "" {
			if err := os.WriteFile(p, []byte(e.new), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), e.old) {
			t.Fatalf("%s does not contain %q: the breakage no longer applies to the tree", e.file, e.old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), e.old, e.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// want is the finding a breakage must produce.
type want struct {
	env, file string
	line      int // 0: any
	object    string
	field     string // substring; "" matches any field
	message   string // substring
}

func (w want) matches(f manifest.Finding) bool {
	return f.Environment == w.env && f.File == w.file && (w.line == 0 || f.Line == w.line) &&
		f.Object == w.object && strings.Contains(f.Field, w.field) &&
		strings.Contains(f.Message, w.message)
}

// TestBrokenRepository copies the repository, breaks it one way per case,
// validates the environment the breakage is in and expects the finding that
// names the file, object and field of the breakage.
func TestBrokenRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and renders every case's environment")
	}
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepo(t)
			apply(t, root, tc.edits)
			r := validateRepo(t, root, tc.want.env)
			if r.Clean() {
				t.Fatal("no findings")
			}
			for _, f := range r.Findings {
				if tc.want.matches(f) {
					return
				}
			}
			t.Errorf("want a finding %+v, got:\n%s", tc.want, join(r.Findings))
		})
	}
}
