package validate

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Report is the outcome of validating environments: which were validated
// and every finding, sorted.
type Report struct {
	Environments []string           `json:"environments"`
	Findings     []manifest.Finding `json:"findings"`
}

// Clean reports whether nothing was found.
func (r *Report) Clean() bool { return len(r.Findings) == 0 }

// Validate builds each environment of the repository at repoRoot (all of
// them when envs is empty) as `gitops-local build` does, offline, and checks
// what it deploys. The build's own findings (malformed YAML, missing patch
// targets, chart values and render failures, ...) are part of the report.
// An error means validation could not run; problems in the repository are
// findings.
func (c *Checker) Validate(ctx context.Context, repoRoot string, envs []string, opts gitops.Options) (*Report, error) {
	if len(envs) == 0 {
		all, err := gitops.Environments(repoRoot)
		if err != nil {
			return nil, fmt.Errorf("listing environments: %w", err)
		}
		envs = all
	}
	targets := make([]gitops.Target, len(envs))
	for i, e := range envs {
		targets[i] = gitops.Target{Env: e}
	}
	return c.ValidateTargets(ctx, repoRoot, targets, opts)
}

// ValidateTargets is Validate for any targets: environments, or folders of
// any Flux repository that a root Kustomization applies.
func (c *Checker) ValidateTargets(ctx context.Context, repoRoot string, targets []gitops.Target, opts gitops.Options) (*Report, error) {
	opts.Offline = true
	r := &Report{Environments: []string{}, Findings: []manifest.Finding{}}
	seen := map[gitops.Target]bool{}
	var todo []gitops.Target
	for _, t := range targets {
		if seen[t] {
			continue
		}
		seen[t] = true
		todo = append(todo, t)
		r.Environments = append(r.Environments, t.Name())
	}
	if opts.Renders == nil {
		opts.Renders = gitops.NewRenderCache()
	}
	// The working copy of the repository belongs to this run: a caller
	// that shares renders between runs (a watch's rounds) must have the
	// next run read the files as they are then.
	defer opts.Renders.Close()
	// Targets are independent: build and check them side by side, one
	// per core (kustomize runs themselves are serialised inside Build).
	memo := newRunMemo()
	results := make([][]manifest.Finding, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, t := range todo {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			env, err := gitops.BuildTarget(gctx, repoRoot, t, opts)
			if err != nil {
				return fmt.Errorf("building %s: %w", t.Name(), err)
			}
			results[i] = c.checkEnvironment(gctx, env, memo)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Checks stopped by a cancellation report what they did not finish.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, fs := range results {
		r.Findings = append(r.Findings, fs...)
	}
	manifest.SortFindings(r.Findings)
	return r, nil
}

// CheckEnvironment checks a built environment and returns the build's
// findings with the checks' own, sorted, each reported once.
func (c *Checker) CheckEnvironment(ctx context.Context, env *gitops.Environment) []manifest.Finding {
	return c.checkEnvironment(ctx, env, nil)
}

func (c *Checker) checkEnvironment(ctx context.Context, env *gitops.Environment, memo *runMemo) []manifest.Finding {
	fs := c.check(ctx, env.Name, env.Objects, env.CRDs, memo, env.Fixtures)
	out := make([]manifest.Finding, 0, len(env.Findings)+len(fs))
	for _, f := range env.Findings {
		if f.Environment == "" {
			f.Environment = env.Name
		}
		out = append(out, f)
	}
	// The build and the checks can both catch a dangling reference
	// ("spec.dependsOn[1].name" and "spec.dependsOn[1]"); keep the build's.
	build := out
	for _, f := range fs {
		if !coveredBy(f, build) {
			out = append(out, f)
		}
	}
	manifest.SortFindings(out)
	return out
}

// coveredBy reports whether one of the build's findings is about the same
// object and field as f, or a field inside it, or the field f is inside.
func coveredBy(f manifest.Finding, build []manifest.Finding) bool {
	if f.Object == "" || f.Field == "" {
		return false
	}
	for _, b := range build {
		if b.Environment != f.Environment || b.Object != f.Object || b.Field == "" {
			continue
		}
		if withinField(b.Field, f.Field) || withinField(f.Field, b.Field) {
			return true
		}
	}
	return false
}

// withinField reports whether field path inner is outer or lies inside it.
func withinField(inner, outer string) bool {
	if !strings.HasPrefix(inner, outer) {
		return false
	}
	rest := inner[len(outer):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}
