package up

import (
	"slices"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

// ks is a Kustomization of the root source in flux-system, at generation 1
// and observed, with a Ready condition of status and reason, that has
// applied revision and depends on deps.
func ks(name string, status metav1.ConditionStatus, reason, revision string, deps ...string) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: RootName, Name: name, Generation: 1}}
	k.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: RootName}
	for _, d := range deps {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	k.Status.ObservedGeneration = 1
	k.Status.LastAppliedRevision = revision
	k.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: reason, ObservedGeneration: 1}}
	return k
}

func TestDependentsToNudge(t *testing.T) {
	const (
		old = "latest@sha256:old"
		now = "latest@sha256:new"
	)
	root := reconcile.Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: RootName, Name: RootName}
	waiting := func(name string, deps ...string) *kustomizev1.Kustomization {
		return ks(name, metav1.ConditionFalse, meta.DependencyNotReadyReason, old, deps...)
	}
	ready := func(name, rev string) *kustomizev1.Kustomization {
		return ks(name, metav1.ConditionTrue, meta.ReconciliationSucceededReason, rev)
	}
	otherSource := ready("elsewhere", now)
	otherSource.Spec.SourceRef.Name = "other"
	for _, tc := range []struct {
		name string
		objs []*kustomizev1.Kustomization
		want []string
	}{
		{"every dependency applied the push", []*kustomizev1.Kustomization{ready("a", now), ready("b", now), waiting("app", "a", "b")}, []string{"app"}},
		{"one dependency still at the old revision", []*kustomizev1.Kustomization{ready("a", now), ready("b", old), waiting("app", "a", "b")}, nil},
		{"a dependency applied but not Ready", []*kustomizev1.Kustomization{ks("a", metav1.ConditionFalse, meta.HealthCheckFailedReason, now), waiting("app", "a")}, nil},
		{"a dependency not seen", []*kustomizev1.Kustomization{waiting("app", "a")}, nil},
		{"a dependency on another source", []*kustomizev1.Kustomization{otherSource, waiting("app", "elsewhere")}, nil},
		{"a dependent not waiting", []*kustomizev1.Kustomization{ready("a", now), ks("app", metav1.ConditionUnknown, meta.ProgressingReason, old, "a")}, nil},
		{"a chain: only the hop whose dependencies are done", []*kustomizev1.Kustomization{ready("a", now), waiting("data", "a"), waiting("app", "data")}, []string{"data"}},
		{"several at once, sorted", []*kustomizev1.Kustomization{ready("a", now), waiting("y", "a"), waiting("x", "a")}, []string{"x", "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[reconcile.Ref]*kustomizev1.Kustomization{}
			for _, k := range tc.objs {
				m[reconcile.Ref{Kind: kustomizev1.KustomizationKind, Namespace: k.Namespace, Name: k.Name}] = k
			}
			var got []string
			for _, r := range dependentsToNudge(m, root, "sha256:new") {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Without a pushed digest no revision is known to be the new one.
	m := map[reconcile.Ref]*kustomizev1.Kustomization{}
	for _, k := range []*kustomizev1.Kustomization{ready("a", now), waiting("app", "a")} {
		m[reconcile.Ref{Kind: kustomizev1.KustomizationKind, Namespace: k.Namespace, Name: k.Name}] = k
	}
	if got := dependentsToNudge(m, root, ""); got != nil {
		t.Errorf("without a pushed digest: got %v, want none", got)
	}
}
