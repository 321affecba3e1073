// Command benchvalidate compares, as whole processes, `gitops-local
// validate` of every environment with running `kubectl kustomize` once per
// environment on the same overlays, and prints the ratio. It is the
// process-level companion of BenchmarkValidateCommand (which runs inside a
// test binary and so leaves out process start-up and the command's own
// settings).
//
//	make bench-validate                          # builds, warms the chart cache, 15 rounds
//	go run ./hack/benchvalidate -n 30 -bin bin/gitops-local -repo .
//
// Each round runs the three measurements one after the other (validate,
// kubectl kustomize of each overlay, kubectl kustomize of every
// kustomization folder the environments deploy), so that a busy moment of
// the machine falls on all of them; medians are reported. It needs kubectl
// on PATH and a warm chart cache (`make charts`); validate must be clean.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/hack/benchtools"
)

func main() { benchtools.Main("benchvalidate", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchvalidate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 15, "rounds")
	bin := fs.String("bin", "bin/gitops-local", "gitops-local binary")
	repo := fs.String("repo", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return fmt.Errorf("kubectl is needed for the comparison: %w", err)
	}
	tool, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	envs, err := gitops.Environments(*repo)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return fmt.Errorf("no environment under %s", filepath.Join(*repo, gitops.OverlaysDir))
	}
	folders, err := kustomizationFolders(*repo)
	if err != nil {
		return err
	}
	version, _ := exec.CommandContext(ctx, kubectl, "version", "--client").Output()

	runs := []struct {
		name string
		cmds [][]string
		took []time.Duration
	}{
		{name: "gitops-local validate (" + strings.Join(envs, ", ") + ")", cmds: [][]string{{tool, "validate"}}},
		{name: fmt.Sprintf("kubectl kustomize, once per environment (%d overlays)", len(envs))},
		{name: fmt.Sprintf("kubectl kustomize, every kustomization folder (%d)", len(folders))},
	}
	for _, e := range envs {
		runs[1].cmds = append(runs[1].cmds, []string{kubectl, "kustomize", filepath.Join(gitops.OverlaysDir, e)})
	}
	for _, f := range folders {
		runs[2].cmds = append(runs[2].cmds, []string{kubectl, "kustomize", f})
	}
	// One unmeasured round warms the page cache and checks that every
	// command succeeds.
	for round := 0; round <= *n; round++ {
		for i := range runs {
			d, err := timeAll(ctx, *repo, runs[i].cmds)
			if err != nil {
				return err
			}
			if round > 0 {
				runs[i].took = append(runs[i].took, d)
			}
		}
	}
	fmt.Fprintf(stdout, "%d rounds; %s", *n, version)
	for _, r := range runs {
		s := benchtools.Summarize(r.took)
		fmt.Fprintf(stdout, "%-70s median %s  min %s  max %s\n", r.name, benchtools.Ms(s.Median), benchtools.Ms(s.Min), benchtools.Ms(s.Max))
	}
	v, k, all := benchtools.Summarize(runs[0].took).Median, benchtools.Summarize(runs[1].took).Median, benchtools.Summarize(runs[2].took).Median
	fmt.Fprintf(stdout, "validate / kubectl kustomize once per environment: %.2f (validate is %s)\n", benchtools.Ratio(v, k), faster(v, k))
	fmt.Fprintf(stdout, "validate / kubectl kustomize of every folder:      %.2f (validate is %s)\n", benchtools.Ratio(v, all), faster(v, all))
	return nil
}

// timeAll runs cmds one after the other in dir and returns the time they
// took together. Output is discarded; a failure is returned with its
// standard error.
func timeAll(ctx context.Context, dir string, cmds [][]string) (time.Duration, error) {
	start := time.Now()
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Dir = dir
		var errOut strings.Builder
		cmd.Stderr = &errOut
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%s: %w\n%s", strings.Join(c, " "), err, errOut.String())
		}
	}
	return time.Since(start), nil
}

func faster(a, b time.Duration) string {
	if a < b {
		return "faster"
	}
	return "slower"
}

// kustomizationFolders are the folders under overlays/ and gitops/ holding
// a kustomization.yaml, relative to repo.
func kustomizationFolders(repo string) ([]string, error) {
	var dirs []string
	for _, top := range []string{"overlays", "gitops"} {
		err := filepath.WalkDir(filepath.Join(repo, top), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == "kustomization.yaml" {
				rel, err := filepath.Rel(repo, filepath.Dir(p))
				if err != nil {
					return err
				}
				dirs = append(dirs, rel)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return dirs, nil
}
