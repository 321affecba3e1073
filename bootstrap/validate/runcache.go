package validate

import (
	"context"
	"encoding/json"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// reportFormat versions the report key and the cached report's encoding.
const reportFormat = "gitops-local validate report v1"

// ValidateCached is Validate (every environment when targets is empty)
// or ValidateTargets with a Checker from newChecker, with the report read
// from cache instead when every input is as in an earlier clean run (see
// gitops.CachedRun); it reports whether it was. A nil cache validates.
func ValidateCached(ctx context.Context, newChecker func() (*Checker, error), repoRoot string, targets []gitops.Target, opts gitops.Options, cache render.ResultCache) (*Report, bool, error) {
	return gitops.CachedRun(ctx, cache, gitops.RunSpec[*Report]{
		What: reportFormat, RepoRoot: repoRoot, Targets: targets, Options: opts,
		Run: func() (*Report, error) {
			c, err := newChecker()
			if err != nil {
				return nil, err
			}
			if len(targets) == 0 {
				return c.Validate(ctx, repoRoot, nil, opts)
			}
			return c.ValidateTargets(ctx, repoRoot, targets, opts)
		},
		Clean:  (*Report).Clean,
		Encode: func(r *Report) ([]byte, error) { return json.Marshal(r) },
		Decode: func(data []byte) (*Report, error) {
			var r Report
			err := json.Unmarshal(data, &r)
			return &r, err
		},
	})
}
