package reconcile

import (
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels kustomize-controller sets on every object it applies, naming the
// Kustomization that applied it (fluxcd/pkg ssa ResourceManager
// SetOwnerLabels, called by kustomize-controller v1.9's reconcile with
// the group kustomize.toolkit.fluxcd.io).
var (
	appliedByName      = kustomizev1.GroupVersion.Group + "/name"
	appliedByNamespace = kustomizev1.GroupVersion.Group + "/namespace"
)

// appliers says whether the Kustomization that applies an object has
// applied, from the current spec, the revision it is waited on for. Until
// it has, an object's failure may be one of the previous revision (the
// values a re-run of up has just fixed, say) and must not end the wait.
type appliers struct {
	ks      map[Ref]*kustomizev1.Kustomization
	want    map[Ref]string // revision each Kustomization is waited on for
	current map[Ref]bool   // whether its source serves that revision
	memo    map[Ref]bool
}

func newAppliers() *appliers {
	return &appliers{ks: map[Ref]*kustomizev1.Kustomization{}, want: map[Ref]string{}, current: map[Ref]bool{}, memo: map[Ref]bool{}}
}

func (a *appliers) add(k *kustomizev1.Kustomization, want string, sourceCurrent bool) {
	ref := kusRef(k)
	a.ks[ref], a.want[ref], a.current[ref] = k, want, sourceCurrent
}

// applierOf is the Kustomization that applied obj, if it is one this
// poll read.
func (a *appliers) applierOf(obj metav1.Object) (Ref, bool) {
	l := obj.GetLabels()
	ref := Ref{Kind: kustomizev1.KustomizationKind, Namespace: l[appliedByNamespace], Name: l[appliedByName]}
	_, ok := a.ks[ref]
	return ref, ok && ref.Name != ""
}

// settled reports whether every Kustomization up the chain that applied
// obj has applied its wanted revision from its current spec; if not, it
// returns the first one that has not.
func (a *appliers) settled(obj metav1.Object) (Ref, bool) {
	ref, ok := a.applierOf(obj)
	if !ok {
		return Ref{}, true
	}
	if !a.applied(ref, map[Ref]bool{}) {
		return ref, false
	}
	return Ref{}, true
}

func (a *appliers) applied(ref Ref, seen map[Ref]bool) bool {
	if v, ok := a.memo[ref]; ok {
		return v
	}
	if seen[ref] {
		return true // a loop of appliers: nothing above to wait for
	}
	seen[ref] = true
	k := a.ks[ref]
	done := a.current[ref] && hasApplied(k, a.want[ref])
	if done {
		if parent, ok := a.applierOf(k); ok {
			done = a.applied(parent, seen)
		}
	}
	a.memo[ref] = done
	return done
}

// hasApplied reports whether k has applied revision (any when empty) from
// its current generation. kustomize-controller v1.9 records the attempted
// revision before applying, then, after applying, either ends Ready with
// lastAppliedRevision, or runs health checks (a Healthy condition "Running
// health checks for revision …"), or fails them or pruning; each
// condition carries the generation it was set for (fluxcd/pkg/runtime
// conditions.Set).
func hasApplied(k *kustomizev1.Kustomization, revision string) bool {
	if revision != "" && k.Status.LastAttemptedRevision != revision {
		return false
	}
	ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
	if ready != nil && ready.ObservedGeneration == k.Generation {
		switch {
		case ready.Status == metav1.ConditionTrue:
			return revision == "" || k.Status.LastAppliedRevision == revision
		case ready.Status == metav1.ConditionFalse && (ready.Reason == meta.HealthCheckFailedReason || ready.Reason == meta.PruneFailedReason):
			return true
		}
	}
	healthy := apimeta.FindStatusCondition(k.Status.Conditions, meta.HealthyCondition)
	return healthy != nil && healthy.ObservedGeneration == k.Generation &&
		healthy.Status == metav1.ConditionUnknown && strings.Contains(healthy.Message, "health checks for revision "+revision+" ")
}
