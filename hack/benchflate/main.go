// Command benchflate times flate (github.com/home-operations/flate, at the
// version pinned in bootstrap/versions), a second offline renderer of Flux
// repositories, against `gitops-local build` of every environment, cold
// and warm, in interleaved rounds, and prints medians and ratios.
//
//	make bench-flate
//	go run ./hack/benchflate -n 5 -bin bin/gitops-local -repo .
//
// flate has no offline mode: it fetches every chart its sources name. The
// harness serves the chart cache's archives as an HTTP Helm repository on
// 127.0.0.1 (index.yaml written by Helm's repository code), pushes the
// repository's own charts (charts/) to an in-memory OCI registry on
// 127.0.0.1 (served to flate over HTTPS with a self-signed certificate,
// which the rewritten OCIRepositories accept with spec.insecure) together
// with the cached archives (the local environment's patches turn its
// HelmRepositories into OCI ones at ${CHART_REGISTRY}, which the copy sets
// to that registry), and renders a copy of the repository whose HelmRepository and
// OCIRepository URLs point there. Cold flate runs start from an empty
// cache directory with its render caches off; warm ones share one cache
// directory. Cold gitops-local runs pass --no-cache when the binary lists
// it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/publish"
	"github.com/leynos/gitops-local/bootstrap/versions"
	"github.com/leynos/gitops-local/hack/benchtools"
)

func main() { benchtools.Main("benchflate", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchflate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 5, "measured rounds")
	bin := fs.String("bin", "bin/gitops-local", "gitops-local binary")
	repoDir := fs.String("repo", ".", "repository root")
	keep := fs.Bool("keep", false, "keep the rewritten copy and the caches (their folder is printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}
	tool, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*repoDir)
	if err != nil {
		return err
	}
	toolDir, err := benchtools.Dir()
	if err != nil {
		return err
	}
	flate, err := benchtools.Flate.Ensure(ctx, toolDir, stderr)
	if err != nil {
		return fmt.Errorf("flate cannot be installed here: %w", err)
	}
	noCache, err := benchtools.SupportsNoCache(ctx, tool)
	if err != nil {
		return err
	}
	envs, err := gitops.Environments(root)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return fmt.Errorf("no environment under %s", filepath.Join(root, gitops.OverlaysDir))
	}
	work, err := os.MkdirTemp("", "benchflate-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stderr, "working folder:", work)
	} else {
		defer os.RemoveAll(work)
	}

	// The chart servers and the rewritten copy.
	charts, err := chartcache.DefaultDir(os.LookupEnv)
	if err != nil {
		return err
	}
	archives, err := filepath.Glob(filepath.Join(charts, "*.tgz"))
	if err != nil {
		return err
	}
	repoFiles := filepath.Join(work, "helm-repo")
	if err := os.Mkdir(repoFiles, 0o755); err != nil {
		return err
	}
	helmRepo, err := serveHelmRepo(repoFiles)
	if err != nil {
		return err
	}
	defer helmRepo.Close()
	if _, err := writeIndex(repoFiles, archives, helmRepo.URL); err != nil {
		return fmt.Errorf("%w (run make charts)", err)
	}
	reg, err := serveRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	pub, err := publish.New(reg.PushHost(), publish.WithInsecure())
	if err != nil {
		return err
	}
	own, _ := filepath.Glob(filepath.Join(root, "charts", "*", "Chart.yaml"))
	for _, c := range own {
		archives = append(archives, filepath.Dir(c))
	}
	for _, a := range archives {
		if _, err := pub.Chart(ctx, a, "charts"); err != nil {
			return err
		}
	}
	copyDir := filepath.Join(work, "repo")
	ep := endpoints{HelmRepo: helmRepo.URL, Registry: reg.PullHost(), Vars: map[string]string{"CHART_REGISTRY": reg.PullHost()}}
	if err := copyRepo(root, copyDir, ep); err != nil {
		return err
	}
	warmCache := filepath.Join(work, "flate-cache")

	flateRun := func(ctx context.Context, cold bool) error {
		for _, env := range envs {
			cache := warmCache
			args := []string{flate, "build", "all", "--path", filepath.Join(copyDir, gitops.OverlaysDir, env)}
			if cold {
				dir, err := os.MkdirTemp(work, "flate-cold-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cache = dir
				args = append(args, "--helm-template-cache-mb", "0", "--helm-render-cache-mb", "0", "--kustomize-render-cache-mb", "0")
			}
			args = append(args, "--cache-dir", cache)
			if _, err := benchtools.Exec(ctx, copyDir, nil, args...); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
		return nil
	}
	buildRun := func(ctx context.Context, cold bool) error {
		for _, env := range envs {
			args := []string{tool, "build", env, "--offline"}
			if cold {
				args = benchtools.Cold(noCache, args...)
			}
			if _, err := benchtools.Exec(ctx, root, nil, args...); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
		return nil
	}
	coldNote := "--no-cache"
	if !noCache {
		coldNote = "this build has no --no-cache: the same command as warm"
	}
	buildCold := &benchtools.Contender{Name: "build cold", Note: "gitops-local build --offline, " + coldNote, Run: func(ctx context.Context) error { return buildRun(ctx, true) }}
	buildWarm := &benchtools.Contender{Name: "build warm", Note: "gitops-local build --offline", Run: func(ctx context.Context) error { return buildRun(ctx, false) }}
	flateCold := &benchtools.Contender{Name: "flate cold", Note: "flate build all, empty cache, render caches off", Run: func(ctx context.Context) error { return flateRun(ctx, true) }}
	flateWarm := &benchtools.Contender{Name: "flate warm", Note: "flate build all, shared cache", Run: func(ctx context.Context) error { return flateRun(ctx, false) }}
	cs := []*benchtools.Contender{buildCold, buildWarm, flateCold, flateWarm}
	if err := benchtools.Interleave(ctx, *n, cs, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d rounds over %d environments (%s), each contender rendering every environment; flate %s\n",
		*n, len(envs), strings.Join(envs, ", "), versions.BenchFlate)
	benchtools.Report(stdout, cs, [][2]*benchtools.Contender{{buildCold, flateCold}, {buildWarm, flateWarm}})
	return nil
}
