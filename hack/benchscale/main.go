// Command benchscale times `gitops-local validate` (cold: --no-cache when
// the binary lists it) on generated Flux repositories of growing size, N
// environments of M HelmReleases each (N·M in 10, 50, 100, 250, 500 by
// default), and prints the wall time, the peak resident memory and the
// time per HelmRelease of each, so that growth shows.
//
//	make bench-scale
//	go run ./hack/benchscale -bin bin/gitops-local -sizes 10,50,100,250,500 -n 1
//
// The repositories mix the ghillie chart (charts/ghillie, through an
// OCIRepository chartRef) with the pinned external-dns chart from the chart
// cache (`make charts`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leynos/gitops-local/hack/benchtools"
)

func main() { benchtools.Main("benchscale", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/gitops-local", "gitops-local binary")
	repo := fs.String("repo", ".", "repository root (its charts/ghillie is used)")
	sizesFlag := fs.String("sizes", "10,50,100,250,500", "comma-separated HelmRelease counts")
	n := fs.Int("n", 1, "runs per size (the median is reported)")
	keep := fs.Bool("keep", false, "keep the generated repositories (their folders are printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		return err
	}
	tool, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	noCache, err := benchtools.SupportsNoCache(ctx, tool)
	if err != nil {
		return err
	}
	mode := "cold (--no-cache)"
	if !noCache {
		mode = "this build has no --no-cache"
	}
	fmt.Fprintf(stdout, "gitops-local validate, %s, median of %d run(s) per size\n", mode, *n)
	fmt.Fprintf(stdout, "%8s %5s %7s %10s %12s %10s\n", "releases", "envs", "per env", "wall", "per release", "peak RSS")
	var prev *row
	for _, total := range sizes {
		s, err := shapeFor(total)
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "benchscale-")
		if err != nil {
			return err
		}
		r, err := measure(ctx, tool, dir, filepath.Join(*repo, "charts", "ghillie"), s, *n, noCache)
		if *keep {
			fmt.Fprintln(stderr, "generated repository:", dir)
		} else {
			os.RemoveAll(dir)
		}
		if err != nil {
			return fmt.Errorf("%d releases: %w", total, err)
		}
		fmt.Fprintf(stdout, "%8d %5d %7d %10s %12s %7d MiB", s.Releases(), s.Envs, s.PerEnv, benchtools.Ms(r.wall), benchtools.Ms(r.wall/time.Duration(s.Releases())), r.rss>>20)
		if prev != nil {
			fmt.Fprintf(stdout, "  (x%.1f releases, x%.1f time)", float64(r.releases)/float64(prev.releases), benchtools.Ratio(r.wall, prev.wall))
		}
		fmt.Fprintln(stdout)
		prev = &r
	}
	return nil
}

type row struct {
	releases int
	wall     time.Duration
	rss      int64
}

// measure generates the repository once and validates it n times.
func measure(ctx context.Context, tool, dir, ghillie string, s shape, n int, noCache bool) (row, error) {
	if err := generate(dir, ghillie, s); err != nil {
		return row{}, err
	}
	var walls []time.Duration
	var rss int64
	for range n {
		res, err := benchtools.Exec(ctx, dir, nil, append([]string{tool}, benchtools.Cold(noCache, "validate", "--repo", dir)...)...)
		if err != nil {
			return row{}, err
		}
		walls = append(walls, res.Wall)
		rss = max(rss, res.MaxRSS)
	}
	return row{releases: s.Releases(), wall: benchtools.Summarize(walls).Median, rss: rss}, nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive count", f)
		}
		out = append(out, v)
	}
	return out, nil
}
