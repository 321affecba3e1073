// Package testutil holds what the project's tests share: copying the
// repository's GitOps tree and editing the copy, and a chart cache seeded with the
// real upstream chart archives. It is a plain package (not internal) so the
// CLI's tests can use it too; nothing outside tests imports it.
package testutil

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// EnvTestdataCharts names the directory of upstream chart archives
// (<name>-<version>.tgz) tests read; the default is
// ../shared/testdata/charts beside the repository.
const EnvTestdataCharts = "GITOPS_LOCAL_TESTDATA_CHARTS"

// CopyTree copies the directories and regular files under src to dst.
func CopyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		tb.Fatalf("copying %s: %v", src, err)
	}
}

// CopyRepo copies gitops/, overlays/ and charts/ of the repository at
// repoRoot into a new temporary directory and returns it.
func CopyRepo(tb testing.TB, repoRoot string) string {
	tb.Helper()
	dst := tb.TempDir()
	for _, d := range manifest.PublishedDirs {
		CopyTree(tb, filepath.Join(repoRoot, d), filepath.Join(dst, d))
	}
	return dst
}

// Edit replaces the first old with new in the file at root/file (a
// slash-separated path), failing the test if old is not there.
func Edit(tb testing.TB, root, file, old, new string) {
	tb.Helper()
	p := filepath.Join(root, filepath.FromSlash(file))
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		tb.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// ChartArchives is the directory of upstream chart archives, or skips the
// test saying how to provide them.
func ChartArchives(tb testing.TB, repoRoot string) string {
	tb.Helper()
	dir := os.Getenv(EnvTestdataCharts)
	if dir == "" {
		dir = filepath.Join(repoRoot, "..", "shared", "testdata", "charts")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tgz")); len(m) == 0 {
		skipOrFail(tb, "needs the upstream chart archives (<name>-<version>.tgz) in %s: set %s", dir, EnvTestdataCharts)
	}
	return dir
}

// ChartCache is an offline chart cache in a temporary directory holding the
// pinned platform charts from ChartArchives; local limits it to the charts
// the local environment installs.
func ChartCache(tb testing.TB, repoRoot string, local bool) *chartcache.Cache {
	tb.Helper()
	src := ChartArchives(tb, repoRoot)
	cache, err := chartcache.New(tb.TempDir(), chartcache.WithOffline(true))
	if err != nil {
		tb.Fatal(err)
	}
	for _, ch := range versions.Charts {
		if local && !ch.Local {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, ch.Name+"-"+ch.Version+".tgz"))
		if err != nil {
			skipOrFail(tb, "upstream chart archive missing: %v (set %s)", err, EnvTestdataCharts)
		}
		if err := cache.Put(chartcache.Ref{Name: ch.Name, Version: ch.Version, Repository: ch.Repository}, data); err != nil {
			tb.Fatal(err)
		}
	}
	return cache
}

// SilentServer listens on loopback, accepts every connection and never
// answers, until the test ends; it returns its host:port.
func SilentServer(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	return l.Addr().String()
}

// skipOrFail skips the test, or fails it when the run requires every
// test to run (GITOPS_LOCAL_REQUIRE_TESTENV=1, as `make test` and CI set):
// missing test data must not pass as a skip there.
func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("GITOPS_LOCAL_REQUIRE_TESTENV") == "1" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}
