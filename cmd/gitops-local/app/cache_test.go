package app

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/resultcache"
)

// cacheEntries counts the files in the result cache folder dir.
func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestResultCacheOutputAndNoCache runs build, validate and diff on this
// repository with --no-cache (or GITOPS_LOCAL_NO_CACHE), which must write
// nothing to the result cache, then with the cache cold and warm: stdout
// must be byte for byte the same each time.
func TestResultCacheOutputAndNoCache(t *testing.T) {
	env := withChartCache(t)
	dir := t.TempDir()
	env[resultcache.EnvDir] = dir
	commands := [][]string{
		{"build", "local", "--repo", repoRoot},
		{"validate", "local", "-o", "json", "--repo", repoRoot},
		{"diff", "local", "ephemeral/pr-123", "-o", "json", "--repo", repoRoot},
	}
	for _, args := range commands {
		t.Run(args[0], func(t *testing.T) {
			uncached := run(t, env, append(args, "--no-cache")...)
			if uncached.code > ExitFindings || uncached.stdout == "" {
				t.Fatalf("%v --no-cache: exit %d, stdout %q\nstderr:\n%s", args, uncached.code, uncached.stdout, uncached.stderr)
			}
			if args[0] == "build" {
				if n := cacheEntries(t, dir); n != 0 {
					t.Fatalf("--no-cache wrote %d files to the result cache", n)
				}
				noCacheEnv := map[string]string{"GITOPS_LOCAL_NO_CACHE": "true"}
				for k, v := range env {
					noCacheEnv[k] = v
				}
				if r := run(t, noCacheEnv, args...); r.stdout != uncached.stdout || cacheEntries(t, dir) != 0 {
					t.Fatalf("GITOPS_LOCAL_NO_CACHE=true: same output %v, %d files in the result cache", r.stdout == uncached.stdout, cacheEntries(t, dir))
				}
			}
			for _, pass := range []string{"cold", "warm"} {
				r := run(t, env, args...)
				if r.code != uncached.code || r.stdout != uncached.stdout {
					t.Fatalf("%s cache: exit %d, want %d; same stdout: %v", pass, r.code, uncached.code, r.stdout == uncached.stdout)
				}
				if cacheEntries(t, dir) == 0 {
					t.Fatalf("%s cache: nothing stored", pass)
				}
			}
		})
	}
}
