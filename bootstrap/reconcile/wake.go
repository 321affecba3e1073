package reconcile

import (
	"context"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Watch watches every Kustomization, HelmRelease and OCIRepository until ctx
// ends and returns a channel for Options.Wake that receives after each
// change made once Watch has returned (changes close together wake once).
// A watch that cannot start or ends early is restarted after a second; Wait
// keeps polling meanwhile, so watching only makes it react sooner.
func Watch(ctx context.Context, c client.WithWatch) <-chan struct{} {
	wake := make(chan struct{}, 1)
	for _, list := range []func() client.ObjectList{
		func() client.ObjectList { return &kustomizev1.KustomizationList{} },
		func() client.ObjectList { return &helmv2.HelmReleaseList{} },
		func() client.ObjectList { return &sourcev1.OCIRepositoryList{} },
	} {
		// The first watch starts before Watch returns, so that no change
		// made after it is missed.
		w, err := c.Watch(ctx, list())
		go func() {
			for {
				if err == nil {
					for range w.ResultChan() {
						select {
						case wake <- struct{}{}:
						default:
						}
					}
					w.Stop()
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				w, err = c.Watch(ctx, list())
			}
		}()
	}
	return wake
}
