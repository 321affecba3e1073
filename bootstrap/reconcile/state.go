// Package reconcile asks Flux to reconcile now and waits, revision-aware, on
// a chain of Kustomizations and HelmReleases linked by dependsOn: an object is
// done when it has applied the revision that was pushed, not merely when it
// says Ready, and a dependent fails as soon as its dependency does.
package reconcile

import (
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// State is where an object is on its way to done.
type State string

// States.
const (
	// Pending: the controller has not yet handled the current spec, the
	// wanted revision, or the reconcile request.
	Pending State = "pending"
	// Progressing: the controller is working on the current revision.
	Progressing State = "progressing"
	// Ready: the wanted revision is applied and healthy.
	Ready State = "ready"
	// Failed: the controller gave up on the current revision.
	Failed State = "failed"
	// Waiting: a dependency is not ready yet.
	Waiting State = "waiting"
	// NotStarted: a dependency failed, so this object will not be applied.
	NotStarted State = "not started"
)

// Status is one object's state with the controller's words for it.
type Status struct {
	State    State  `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// failureReasons are Ready=False reasons after which the controller will
// not succeed on this revision without a change. ArtifactFailed is not one:
// it means the source has no artifact yet, and the source itself is waited
// on (and fails) on its own.
var failureReasons = map[string]bool{
	meta.BuildFailedReason:          true,
	meta.HealthCheckFailedReason:    true,
	meta.ReconciliationFailedReason: true,
	meta.PruneFailedReason:          true,
	meta.InvalidPathReason:          true,
	helmv2.InstallFailedReason:      true,
	helmv2.UpgradeFailedReason:      true,
	helmv2.RollbackFailedReason:     true,
	helmv2.UninstallFailedReason:    true,
	helmv2.TestFailedReason:         true,
	"RetriesExceeded":               true,
	"InitFailed":                    true,
}

// Want is what "done" means for one object.
type Want struct {
	// Revision is the source revision the object must have applied; empty
	// means any.
	Revision string
	// Token is the reconcile.fluxcd.io/requestedAt value the controller must
	// have handled; empty means none was requested.
	Token string
}

// KustomizationStatus says whether k has applied want.Revision.
func KustomizationStatus(k *kustomizev1.Kustomization, want Want) Status {
	s := Status{Revision: k.Status.LastAppliedRevision}
	ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
	if k.Spec.Suspend {
		return Status{State: Failed, Reason: "Suspended", Message: "the Kustomization is suspended: resume it with spec.suspend: false", Revision: s.Revision}
	}
	// The controller reports a dependency wait without observing the
	// generation, so check for it first.
	if ready != nil && ready.Status == metav1.ConditionFalse && ready.Reason == meta.DependencyNotReadyReason {
		return withCondition(Status{State: Waiting, Revision: s.Revision}, ready)
	}
	// A failed reconciliation does not record the observed generation, so a
	// failure counts when it is about the wanted revision (and request)
	// and, as its condition records, the current spec: a reconciliation
	// of the previous spec may fail on the new revision.
	if ready != nil && ready.Status == metav1.ConditionFalse && failureReasons[ready.Reason] &&
		ready.ObservedGeneration == k.Generation &&
		(want.Revision == "" || k.Status.LastAttemptedRevision == want.Revision) &&
		(want.Token == "" || k.Status.LastHandledReconcileAt == want.Token) {
		return withCondition(Status{State: Failed, Revision: s.Revision}, ready)
	}
	if k.Status.ObservedGeneration != k.Generation || ready == nil ||
		(want.Token != "" && k.Status.LastHandledReconcileAt != want.Token) {
		return withCondition(Status{State: Pending, Revision: s.Revision}, ready)
	}
	// A dependency wait or a failure about the wanted revision has been
	// returned above.
	s.State = Progressing
	if ready.Status == metav1.ConditionTrue && (want.Revision == "" || k.Status.LastAppliedRevision == want.Revision) {
		s.State = Ready
	}
	return withCondition(s, ready)
}

// HelmReleaseStatus says whether h has released want.Revision (the digest
// of its chart artifact, matched against lastAttemptedRevisionDigest, or the
// chart version, matched against lastAttemptedRevision).
func HelmReleaseStatus(h *helmv2.HelmRelease, want Want) Status {
	s := Status{Revision: h.Status.LastAttemptedRevision}
	if h.Status.LastAttemptedRevisionDigest != "" {
		s.Revision += "@" + h.Status.LastAttemptedRevisionDigest
	}
	ready := apimeta.FindStatusCondition(h.Status.Conditions, meta.ReadyCondition)
	current := want.Revision == "" || h.Status.LastAttemptedRevision == want.Revision || h.Status.LastAttemptedRevisionDigest == want.Revision
	if h.Spec.Suspend {
		return Status{State: Failed, Reason: "Suspended", Message: "the HelmRelease is suspended: resume it with spec.suspend: false", Revision: s.Revision}
	}
	if ready != nil && ready.Status == metav1.ConditionFalse && ready.Reason == helmv2.DependencyNotReadyReason {
		return withCondition(Status{State: Waiting, Revision: s.Revision}, ready)
	}
	// As for Kustomizations, a failure need not record the observed
	// generation; the attempted generation and revision say what failed.
	if ready != nil && ready.Status == metav1.ConditionFalse && failureReasons[ready.Reason] && current &&
		h.Status.LastAttemptedGeneration == h.Generation {
		return withCondition(Status{State: Failed, Revision: s.Revision}, ready)
	}
	if h.Status.ObservedGeneration != h.Generation || ready == nil ||
		(want.Token != "" && h.Status.LastHandledReconcileAt != want.Token) {
		return withCondition(Status{State: Pending, Revision: s.Revision}, ready)
	}
	switch {
	case ready.Status == metav1.ConditionTrue && current:
		s.State = Ready
	case ready.Status == metav1.ConditionFalse && failureReasons[ready.Reason] && current:
		// A failure whose attempted generation is not the current one.
		s.State = Failed
	case stalled(h.Status.Conditions):
		s.State = Failed
	default:
		s.State = Progressing
	}
	return withCondition(s, ready)
}

func stalled(cs []metav1.Condition) bool {
	c := apimeta.FindStatusCondition(cs, meta.StalledCondition)
	return c != nil && c.Status == metav1.ConditionTrue
}

func withCondition(s Status, c *metav1.Condition) Status {
	if c != nil {
		s.Reason, s.Message = c.Reason, c.Message
	}
	return s
}

// String formats the status for a progress line.
func (s Status) String() string {
	out := string(s.State)
	if s.Reason != "" {
		out += " (" + s.Reason + ")"
	}
	if s.Message != "" {
		out += ": " + s.Message
	}
	return out
}

// Ref names a Flux object.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (r Ref) String() string { return fmt.Sprintf("%s/%s/%s", r.Kind, r.Namespace, r.Name) }
