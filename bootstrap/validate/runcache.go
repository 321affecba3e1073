package validate

import (
	"context"
	"encoding/json"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// A clean report is kept in the result cache under the digest of every
// input the run reads: the repository's files, the folders --source and
// --fixtures name, the chart cache's entries, the targets and the options
// (the tool's own identity is part of every key, see package resultcache).
// Validating an unchanged tree again then reads and hashes files and
// builds nothing. Only a clean report is kept: a finding can come from a
// render stopped by its time bound, which depends on the machine, and a
// run with findings is the one a user is about to change anyway.

// reportFormat versions the report key and the cached report's encoding.
const reportFormat = "gitops-local validate report v1"

// ValidateCached is Validate (every environment when targets is empty)
// or ValidateTargets with a Checker from newChecker, with the report read
// from cache instead when every input is as in an earlier clean run; it
// reports whether it was. A nil cache validates.
func ValidateCached(ctx context.Context, newChecker func() (*Checker, error), repoRoot string, targets []gitops.Target, opts gitops.Options, cache render.ResultCache) (*Report, bool, error) {
	run := func() (*Report, error) {
		c, err := newChecker()
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return c.Validate(ctx, repoRoot, nil, opts)
		}
		return c.ValidateTargets(ctx, repoRoot, targets, opts)
	}
	if cache == nil {
		r, err := run()
		return r, false, err
	}
	key, err := gitops.RunKey(reportFormat, repoRoot, targets, opts)
	if err != nil {
		// An input that cannot be read is for the run to report.
		r, err := run()
		return r, false, err
	}
	if data, ok := cache.Get(key); ok {
		var r Report
		if json.Unmarshal(data, &r) == nil && r.Clean() {
			return &r, true, nil
		}
	}
	r, err := run()
	if err != nil || ctx.Err() != nil || !r.Clean() {
		return r, false, err
	}
	// The inputs must not have changed while the run read them.
	if again, err := gitops.RunKey(reportFormat, repoRoot, targets, opts); err == nil && again == key {
		if data, err := json.Marshal(r); err == nil {
			_ = cache.Put(key, data) // a report not stored is only slower next time
		}
	}
	return r, false, nil
}
