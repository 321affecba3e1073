package up

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/validate"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// InvalidError is a change that validation refused: nothing was pushed.
type InvalidError struct {
	// Environments are the environments with findings, sorted.
	Environments []string
	Findings     []manifest.Finding
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  " + f.String()
	}
	names := make([]string, len(e.Environments))
	for i, env := range e.Environments {
		names[i] = "overlays/" + env
	}
	verb := "does"
	if len(names) > 1 {
		verb = "do"
	}
	return fmt.Sprintf("%s %s not validate, nothing was pushed:\n%s", strings.Join(names, ", "), verb, strings.Join(lines, "\n"))
}

// Validated remembers, across the rounds of a watch, the inputs with which
// each environment last validated clean, so that a round validates only the
// environments its change touches (see readInputs for what touches what).
// An environment that failed is validated again in every round until it
// passes. It is safe for concurrent use.
type Validated struct {
	mu      sync.Mutex
	checker *validate.Checker
	clean   map[string]string // environment -> inputs digest
	charts  bool              // the pinned charts were looked for
	// renders are chart renders kept from round to round: platform charts
	// (immutable at a pinned version) render the same for the same values.
	// Renders are keyed by content, so none is ever stale; the cache is
	// still dropped whenever a file under charts/ changes and every
	// rendersRounds rounds, so that renders of older charts and values do
	// not pile up.
	renders     *gitops.RenderCache
	rendersFor  string // digest of charts/ the renders were made from
	rendersUsed int
}

// rendersRounds is how many rounds share one render cache.
const rendersRounds = 50

// rendersOf returns the render cache for a round whose charts/ digest is
// charts.
func (v *Validated) rendersOf(charts string) *gitops.RenderCache {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.renders == nil || v.rendersFor != charts || v.rendersUsed >= rendersRounds {
		v.renders, v.rendersFor, v.rendersUsed = gitops.NewRenderCache(), charts, 0
	}
	v.rendersUsed++
	return v.renders
}

// NewValidated returns an empty memory: its first round validates every
// environment.
func NewValidated() *Validated { return &Validated{clean: map[string]string{}} }

func (v *Validated) checkerFor() (*validate.Checker, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.checker == nil {
		c, err := validate.NewChecker()
		if err != nil {
			return nil, err
		}
		v.checker = c
	}
	return v.checker, nil
}

// SyncSteps are one round of the inner loop on a cluster up has prepared:
// validate offline every environment the change touches and refuse an
// invalid change, then publish what changed, ask Flux to reconcile and wait
// for it, reporting what Flux created, changed and deleted.
func (r *Runner) SyncSteps() []progress.Step {
	return []progress.Step{
		{Name: "Validate the environments the change touches", Run: r.validate},
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
	r.changesLog = r.opts.Log.Infof
	steps, err := rep.Run(ctx, r.SyncSteps())
	r.summary.Steps = steps
	return r.summary, err
}

// fetchCharts puts into the chart cache, once per memory, the pinned charts
// that other environments install (up fetches only the deployed
// environment's), so that they can be validated. It does not fail: a chart
// it could not get is a finding of the validation, saying what to do.
func (r *Runner) fetchCharts(ctx context.Context, mem *Validated) {
	mem.mu.Lock()
	done := mem.charts
	mem.charts = true
	mem.mu.Unlock()
	if done {
		return
	}
	for _, ch := range versions.Charts {
		if _, err := r.opts.Charts.Get(ctx, chartcache.Ref{Name: ch.Name, Version: ch.Version, Repository: ch.Repository}); err != nil {
			r.opts.Log.Debugf("chart %s %s: %v", ch.Name, ch.Version, err)
		}
	}
}

// validate checks offline, with the charts from the cache, the deployed
// environment and every other environment whose inputs changed since it
// last validated clean (all of them without Options.Validated).
func (r *Runner) validate(ctx context.Context) error {
	mem := r.opts.Validated
	if mem == nil {
		mem = NewValidated()
	}
	checker, err := mem.checkerFor()
	if err != nil {
		return err
	}
	envs, err := gitops.Environments(r.opts.RepoRoot)
	if err != nil {
		return fmt.Errorf("listing environments: %w", err)
	}
	in, err := readInputs(r.opts.RepoRoot, envs)
	if err != nil {
		return err
	}
	todo := []string{r.opts.Environment}
	mem.mu.Lock()
	for _, e := range envs {
		if e != r.opts.Environment && mem.clean[e] != in.envs[e] {
			todo = append(todo, e)
		}
	}
	mem.mu.Unlock()
	slices.Sort(todo)
	r.summary.Validated = todo
	if len(todo) > 1 {
		r.fetchCharts(ctx, mem)
	}
	r.opts.Log.Debugf("validating %s", strings.Join(todo, ", "))

	report, err := checker.Validate(ctx, r.opts.RepoRoot, todo, gitops.Options{Offline: true, ChartCache: r.opts.Charts, Renders: mem.rendersOf(in.charts), RenderLimits: r.opts.RenderLimits})
	if err != nil {
		return err
	}
	// What is pushed must be what was validated: an edit saved while
	// validating waits for the next round.
	after, err := readInputs(r.opts.RepoRoot, envs)
	if err != nil {
		return err
	}
	if after.tree != in.tree {
		return fmt.Errorf("the tree changed while it was being validated, nothing was pushed: sync again (watch does)")
	}
	bad := map[string]bool{}
	for _, f := range report.Findings {
		env := f.Environment
		if env == "" {
			env = r.opts.Environment
		}
		bad[env] = true
	}
	mem.mu.Lock()
	for _, e := range todo {
		if bad[e] {
			delete(mem.clean, e)
		} else if d, ok := in.envs[e]; ok {
			mem.clean[e] = d
		}
	}
	mem.mu.Unlock()
	if len(bad) > 0 {
		ierr := &InvalidError{Findings: report.Findings}
		for e := range bad {
			ierr.Environments = append(ierr.Environments, e)
		}
		slices.Sort(ierr.Environments)
		return ierr
	}
	return nil
}
