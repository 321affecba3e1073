package up

import (
	"context"
	"fmt"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/validate"
)

// InvalidError is a change that validation refused: nothing was pushed.
type InvalidError struct {
	Environment string
	Findings    []manifest.Finding
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  " + f.String()
	}
	return fmt.Sprintf("overlays/%s does not validate, nothing was pushed:\n%s", e.Environment, strings.Join(lines, "\n"))
}

// SyncSteps are one round of the inner loop on a cluster up has prepared:
// validate the environment offline and refuse an invalid change, then
// publish what changed, ask Flux to reconcile and wait for it.
func (r *Runner) SyncSteps() []progress.Step {
	return []progress.Step{
		{Name: "Validate overlays/" + r.opts.Environment, Run: r.validate},
		{Name: "Publish charts and the GitOps tree to " + r.opts.RegistryPush, Run: r.publish},
		{Name: "Ask Flux to reconcile overlays/" + r.opts.Environment, Run: r.configure},
		{Name: "Wait for platform, data and app to be Ready", Run: r.wait},
	}
}

// Sync runs SyncSteps with rep reporting them.
func Sync(ctx context.Context, rep *progress.Reporter, opts Options) (*Summary, error) {
	r, err := New(opts)
	if err != nil {
		return nil, err
	}
	steps, err := rep.Run(ctx, r.SyncSteps())
	r.summary.Steps = steps
	return r.summary, err
}

// validate checks the environment offline, with the charts from the cache.
func (r *Runner) validate(ctx context.Context) error {
	checker, err := validate.NewChecker()
	if err != nil {
		return err
	}
	report, err := checker.Validate(ctx, r.opts.RepoRoot, []string{r.opts.Environment},
		gitops.Options{Offline: true, ChartCache: r.opts.Charts})
	if err != nil {
		return err
	}
	if !report.Clean() {
		return &InvalidError{Environment: r.opts.Environment, Findings: report.Findings}
	}
	return nil
}
