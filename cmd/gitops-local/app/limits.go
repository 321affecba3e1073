package app

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/leynos/gitops-local/bootstrap/render"
)

// renderFlags bound each chart render of the commands that build
// environments (validate, build, diff, and sync, watch and up, which
// validate).
type renderFlags struct {
	timeout time.Duration
}

func (r *renderFlags) register(f *pflag.FlagSet) {
	f.DurationVar(&r.timeout, "render-timeout", render.DefaultTimeout, "how long one chart may take to render before it is stopped and reported as a finding")
}

// limits are the render limits the flags set, after checking them.
func (r *renderFlags) limits() (render.Limits, error) {
	if r.timeout <= 0 {
		return render.Limits{}, fmt.Errorf("invalid --render-timeout %s: must be positive", r.timeout)
	}
	return render.Limits{Timeout: r.timeout}, nil
}
