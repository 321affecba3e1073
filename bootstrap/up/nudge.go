package up

import (
	"context"
	"slices"
	"strings"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

// nudgeOnApply asks Flux to reconcile a Kustomization waiting on its
// dependencies the moment a watch shows that they have all applied the
// pushed revision, rather than at wait's next poll. On the local overlay's
// chain (platform, then ghillie-data, then ghillie-app) each hop otherwise
// costs a poll of every Flux object before the request goes out. wait's
// own nudge stays as the fallback (a watch that fails or ends early, a
// dependency on another source); both ask each object at most once. It
// returns once the watch has started, and the returned function stops it
// and waits for it to end.
func (r *Runner) nudgeOnApply(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := r.client.Watch(ctx, &kustomizev1.KustomizationList{})
	if err != nil {
		cancel()
		r.opts.Log.Debugf("not watching Kustomizations to ask dependents early: %v", err)
		return func() {}
	}
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		defer w.Stop()
		root := reconcile.Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: RootName, Name: RootName}
		ks := map[reconcile.Ref]*kustomizev1.Kustomization{}
		for ev := range w.ResultChan() {
			k, ok := ev.Object.(*kustomizev1.Kustomization)
			if !ok || ev.Type == watch.Error {
				continue
			}
			ref := reconcile.Ref{Kind: kustomizev1.KustomizationKind, Namespace: k.Namespace, Name: k.Name}
			if ev.Type == watch.Deleted {
				delete(ks, ref)
				continue
			}
			ks[ref] = k
			for _, d := range dependentsToNudge(ks, root, r.summary.Artifact.Digest) {
				obj := &kustomizev1.Kustomization{}
				obj.SetNamespace(d.Namespace)
				obj.SetName(d.Name)
				if err := r.requestOnce(ctx, d, obj); err != nil && ctx.Err() == nil {
					r.opts.Log.Debugf("%s: %v", d, err)
				}
			}
		}
	}()
	return func() { cancel(); done.Wait() }
}

// requestOnce asks Flux to reconcile obj (named by ref) unless it was
// already asked in this run.
func (r *Runner) requestOnce(ctx context.Context, ref reconcile.Ref, obj client.Object) error {
	r.nudgeMu.Lock()
	defer r.nudgeMu.Unlock()
	if r.nudged[ref] {
		return nil
	}
	if _, err := reconcile.Request(ctx, r.client, obj, r.opts.Now()); err != nil {
		return err
	}
	r.nudged[ref] = true
	r.opts.Log.Debugf("%s: dependencies ready, reconcile requested", ref)
	return nil
}

// dependentsToNudge are the Kustomizations of ks, sorted, that wait on
// dependencies (Ready=False, DependencyNotReady) every one of which is
// served by the root source and has applied and is Ready at the pushed
// revision (the one ending in digest): kustomize-controller's dependency
// check would now pass for them. A dependency on another source, or one
// not in ks, leaves its dependent to wait's poll.
func dependentsToNudge(ks map[reconcile.Ref]*kustomizev1.Kustomization, root reconcile.Ref, digest string) []reconcile.Ref {
	if digest == "" {
		return nil
	}
	applied := func(ref reconcile.Ref) bool {
		k, ok := ks[ref]
		if !ok || k.Spec.SourceRef.Kind != root.Kind || k.Spec.SourceRef.Name != root.Name || or(k.Spec.SourceRef.Namespace, k.Namespace) != root.Namespace {
			return false
		}
		rev := k.Status.LastAppliedRevision
		return strings.HasSuffix(rev, digest) && reconcile.KustomizationStatus(k, reconcile.Want{Revision: rev}).State == reconcile.Ready
	}
	var out []reconcile.Ref
	for ref, k := range ks {
		if len(k.Spec.DependsOn) == 0 || reconcile.KustomizationStatus(k, reconcile.Want{}).State != reconcile.Waiting {
			continue
		}
		all := true
		for _, d := range k.Spec.DependsOn {
			all = all && applied(reconcile.Ref{Kind: kustomizev1.KustomizationKind, Namespace: or(d.Namespace, k.Namespace), Name: d.Name})
		}
		if all {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b reconcile.Ref) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
