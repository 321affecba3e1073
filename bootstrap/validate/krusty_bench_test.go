package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/resultcache"
)

// repoRoot is the repository this package's tests validate.
const repoRoot = "../.."

// kustomizationDirs lists the folders of the overlays and of the shared
// tree that hold a kustomization.yaml: what an environment build runs
// kustomize over (each overlay, then each Flux Kustomization's path).
func kustomizationDirs(tb testing.TB) []string {
	tb.Helper()
	var dirs []string
	for _, top := range []string{"overlays", "gitops"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, top), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == "kustomization.yaml" {
				dirs = append(dirs, filepath.Dir(p))
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return dirs
}

// BenchmarkKrustyBuild is the baseline for BenchmarkValidateRepository:
// plain kustomize (krusty) over every overlay and every Flux Kustomization
// path of the tree, once each, with no patches, substitution, chart
// rendering or checks.
func BenchmarkKrustyBuild(b *testing.B) {
	dirs := kustomizationDirs(b)
	if len(dirs) == 0 {
		b.Skip("no kustomization.yaml under overlays/ or gitops/")
	}
	fs := filesys.MakeFsOnDisk()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, d := range dirs {
			rm, err := k.Run(fs, d)
			if err != nil {
				b.Fatalf("kustomize build %s: %v", strings.TrimPrefix(d, repoRoot+"/"), err)
			}
			n += rm.Size()
		}
		b.ReportMetric(float64(len(dirs)), "kustomizations/op")
		b.ReportMetric(float64(n), "objects/op")
	}
}

// BenchmarkValidateRepository validates the whole repository as
// `gitops-local validate` does: every environment built (kustomize, patches,
// substitution), every HelmRelease rendered from a warm chart cache, every
// object checked against its schema and every reference resolved.
func BenchmarkValidateRepository(b *testing.B) {
	cache := chartCache(b)
	c := testChecker(b)
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := c.Validate(context.Background(), repoRoot, envs, gitops.Options{Offline: true, ChartCache: cache})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(r.Environments)), "environments/op")
		b.ReportMetric(float64(len(r.Findings)), "findings/op")
	}
}

// BenchmarkValidateCommand is BenchmarkValidateRepository with a new
// Checker each time, as each `gitops-local validate` process has: nothing
// compiled by an earlier run is reused.
func BenchmarkValidateCommand(b *testing.B) {
	cache := chartCache(b)
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := NewChecker()
		if err != nil {
			b.Fatal(err)
		}
		r, err := c.Validate(context.Background(), repoRoot, envs, gitops.Options{Offline: true, ChartCache: cache})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(r.Environments)), "environments/op")
	}
}

// BenchmarkChecksOnly runs only the checks over every environment, built
// once beforehand: the part of BenchmarkValidateRepository this package
// adds to the build.
func BenchmarkChecksOnly(b *testing.B) {
	cache := chartCache(b)
	c := testChecker(b)
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var built []*gitops.Environment
	objects := 0
	for _, name := range envs {
		env, err := gitops.Build(ctx, repoRoot, name, gitops.Options{Offline: true, ChartCache: cache})
		if err != nil {
			b.Fatal(err)
		}
		built = append(built, env)
		objects += len(env.Objects)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, env := range built {
			c.CheckEnvironment(ctx, env)
		}
		b.ReportMetric(float64(objects), "objects/op")
	}
}

// BenchmarkValidateCommandWarm is BenchmarkValidateCommand with a result
// cache on disk that an earlier run filled, as each `gitops-local
// validate` process after the first on an unchanged tree has: a new
// Checker and a new cache handle each time, every render read back from
// disk.
func BenchmarkValidateCommandWarm(b *testing.B) {
	cache := chartCache(b)
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	run := func() {
		c, err := NewChecker()
		if err != nil {
			b.Fatal(err)
		}
		rc, err := resultcache.Open(dir, resultcache.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		r, err := c.Validate(context.Background(), repoRoot, envs, gitops.Options{Offline: true, ChartCache: cache, Results: rc})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(r.Environments)), "environments/op")
	}
	run() // fill the cache
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
