package flux

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager is the server-side apply field manager gitops-local uses.
const FieldManager = "gitops-local"

// InstallResult says what Install changed.
type InstallResult struct {
	// Changes lists "Kind/namespace/name" by action (created, configured,
	// unchanged).
	Changes map[string][]string `json:"changes"`
}

// Changed reports whether Install created or changed anything.
func (r InstallResult) Changed() bool {
	for action, objs := range r.Changes {
		if action != string(ssa.UnchangedAction) && len(objs) > 0 {
			return true
		}
	}
	return false
}

// Install applies the embedded Flux manifests with server-side apply (CRDs
// and the namespace first, then the rest) and waits until every object is
// current according to kstatus, or timeout passes. Applying again changes
// nothing.
func Install(ctx context.Context, c client.Client, timeout time.Duration) (*InstallResult, error) {
	objs, err := Manifests()
	if err != nil {
		return nil, err
	}
	poller := polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{})
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "gitops-local.leynos.github.io"})

	opts := ssa.DefaultApplyOptions()
	opts.WaitTimeout = timeout
	cs, err := rm.ApplyAllStaged(ctx, objs, opts)
	if err != nil {
		return nil, fmt.Errorf("applying flux manifests: %w", err)
	}
	res := &InstallResult{Changes: map[string][]string{}}
	for action, names := range cs.ToGroupedMap() {
		res.Changes[string(action)] = names
	}

	wait := ssa.DefaultWaitOptions()
	wait.Timeout = timeout
	wait.Interval = 500 * time.Millisecond
	wait.FailFast = true
	if err := rm.WaitForSetWithContext(ctx, cs.ToObjMetadataSet(), wait); err != nil {
		return res, fmt.Errorf("waiting for flux controllers to be ready: %w", err)
	}
	return res, nil
}
