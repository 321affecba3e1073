package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const rev1, rev2 = "local@sha256:aaa", "local@sha256:bbb"

func cond(status metav1.ConditionStatus, reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: reason, Message: msg}}
}

func ks(name string, gen, observed int64, applied, attempted string, c []metav1.Condition, deps ...string) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "flux-system", Generation: gen},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "gitops-local"},
		},
		Status: kustomizev1.KustomizationStatus{ObservedGeneration: observed, LastAppliedRevision: applied, LastAttemptedRevision: attempted, Conditions: c},
	}
	// The controller sets each condition for the generation it reconciled
	// (fluxcd/pkg/runtime conditions.Set): here, the current one.
	for i := range k.Status.Conditions {
		k.Status.Conditions[i].ObservedGeneration = gen
	}
	for _, d := range deps {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	return k
}

func TestKustomizationStatus(t *testing.T) {
	cases := []struct {
		name string
		k    *kustomizev1.Kustomization
		want Want
		st   State
	}{
		{"ready at the wanted revision", ks("a", 1, 1, rev2, rev2, cond("True", meta.ReconciliationSucceededReason, "")), Want{Revision: rev2}, Ready},
		{"ready at an older revision is not done", ks("a", 1, 1, rev1, rev1, cond("True", meta.ReconciliationSucceededReason, "")), Want{Revision: rev2}, Progressing},
		{"spec not yet observed", ks("a", 2, 1, rev2, rev2, cond("True", "", "")), Want{Revision: rev2}, Pending},
		{"no condition yet", ks("a", 1, 1, "", "", nil), Want{Revision: rev2}, Pending},
		{"build failed at the wanted revision", ks("a", 1, 1, rev1, rev2, cond("False", meta.BuildFailedReason, "kustomize build failed")), Want{Revision: rev2}, Failed},
		{"build failed without observing the generation", ks("a", 2, 1, rev1, rev2, cond("False", meta.BuildFailedReason, "accumulating resources")), Want{Revision: rev2}, Failed},
		{"old failure while the new revision is pending", ks("a", 1, 1, rev1, rev1, cond("False", meta.BuildFailedReason, "x")), Want{Revision: rev2}, Progressing},
		{"dependency not ready", ks("a", 1, 1, "", rev2, cond("False", meta.DependencyNotReadyReason, "dependency 'flux-system/b' is not ready")), Want{Revision: rev2}, Waiting},
		{"reconcile request not yet handled", ks("a", 1, 1, rev2, rev2, cond("True", "", "")), Want{Revision: rev2, Token: "t1"}, Pending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KustomizationStatus(tc.k, tc.want); got.State != tc.st {
				t.Errorf("state %q (%s), want %q", got.State, got, tc.st)
			}
		})
	}
	// The previous spec failed on the wanted revision; the current one
	// (generation 3) is not yet reconciled.
	prev := ks("a", 3, 1, rev1, rev2, cond("False", meta.HealthCheckFailedReason, "timeout waiting for: [Secret/ghillie/x status: 'NotFound']"))
	prev.Status.Conditions[0].ObservedGeneration = 2
	if got := KustomizationStatus(prev, Want{Revision: rev2}); got.State != Pending {
		t.Errorf("failure of the previous spec = %s, want pending", got)
	}
	k := ks("a", 1, 1, rev2, rev2, cond("True", "", ""))
	k.Spec.Suspend = true
	if got := KustomizationStatus(k, Want{}); got.State != Failed || !strings.Contains(got.Message, "suspend") {
		t.Errorf("suspended = %s", got)
	}
}

func hr(gen, observed int64, attempted, digest string, c []metav1.Condition) *helmv2.HelmRelease {
	return &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "ghillie", Namespace: "ghillie", Generation: gen},
		Status:     helmv2.HelmReleaseStatus{ObservedGeneration: observed, LastAttemptedRevision: attempted, LastAttemptedRevisionDigest: digest, Conditions: c},
	}
}

func TestHelmReleaseStatus(t *testing.T) {
	cases := []struct {
		name string
		h    *helmv2.HelmRelease
		want Want
		st   State
	}{
		{"installed the wanted digest", hr(1, 1, "0.1.0", "sha256:new", cond("True", helmv2.InstallSucceededReason, "")), Want{Revision: "sha256:new"}, Ready},
		{"ready with the old chart digest", hr(1, 1, "0.1.0", "sha256:old", cond("True", helmv2.UpgradeSucceededReason, "")), Want{Revision: "sha256:new"}, Progressing},
		{"ready at the pinned version", hr(1, 1, "0.26.1", "", cond("True", helmv2.InstallSucceededReason, "")), Want{Revision: "0.26.1"}, Ready},
		{"upgrade failed on the wanted chart", hr(1, 1, "0.1.0", "sha256:new", cond("False", helmv2.UpgradeFailedReason, "values don't meet the specifications of the schema")), Want{Revision: "sha256:new"}, Failed},
		{"waiting on a dependency", hr(1, 1, "", "", cond("False", helmv2.DependencyNotReadyReason, "")), Want{}, Waiting},
		{"new generation not observed", hr(3, 2, "0.1.0", "sha256:new", cond("True", "", "")), Want{Revision: "sha256:new"}, Pending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := HelmReleaseStatus(tc.h, tc.want); got.State != tc.st {
				t.Errorf("state %q (%s), want %q", got.State, got, tc.st)
			}
		})
	}
	stalled := hr(1, 1, "0.1.0", "sha256:old", []metav1.Condition{
		{Type: meta.ReadyCondition, Status: "False", Reason: "Progressing"},
		{Type: meta.StalledCondition, Status: "True", Reason: "RetriesExceeded"},
	})
	if got := HelmReleaseStatus(stalled, Want{Revision: "sha256:new"}); got.State != Failed {
		t.Errorf("stalled release = %s, want failed", got)
	}
}

func newClient(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv2.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func source(revision string) *sourcev1.OCIRepository {
	return &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "gitops-local", Namespace: "flux-system"},
		Status:     sourcev1.OCIRepositoryStatus{Artifact: &meta.Artifact{Revision: revision, Digest: "sha256:art"}},
	}
}

func TestWaitReadyChain(t *testing.T) {
	c := newClient(t,
		source(rev2),
		ks("platform", 1, 1, rev2, rev2, cond("True", "", "")),
		ks("apps", 1, 1, rev2, rev2, cond("True", "", ""), "platform"),
	)
	var changes []string
	src := Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: "flux-system", Name: "gitops-local"}
	res, err := Wait(context.Background(), c, Options{Interval: time.Millisecond, Source: &src, SourceDigest: "sha256:bbb",
		OnChange: func(r Ref, s Status) { changes = append(changes, r.Name+"="+string(s.State)) }})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, o := range res.Objects {
		order = append(order, o.Name)
	}
	if strings.Join(order, ",") != "gitops-local,platform,apps" {
		t.Errorf("order %v: dependencies must come first", order)
	}
	if len(changes) != 3 {
		t.Errorf("changes %v", changes)
	}
}

func TestWaitFailsFastAndMarksDependents(t *testing.T) {
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "platform.1", Namespace: "flux-system"},
		InvolvedObject: corev1.ObjectReference{Kind: kustomizev1.KustomizationKind, Name: "platform", Namespace: "flux-system"},
		Reason:         "BuildFailed", Message: "accumulating resources: no such file",
		LastTimestamp: metav1.Now(),
	}
	c := newClient(t,
		source(rev2),
		ks("platform", 1, 1, rev1, rev2, cond("False", meta.BuildFailedReason, "kustomize build failed: accumulating resources")),
		ks("data", 1, 1, "", rev2, cond("False", meta.DependencyNotReadyReason, ""), "platform"),
		ks("apps", 1, 1, "", rev2, cond("False", meta.DependencyNotReadyReason, ""), "data"),
		ev,
	)
	_, err := Wait(context.Background(), c, Options{Interval: time.Millisecond})
	var ferr *FailedError
	if !errors.As(err, &ferr) {
		t.Fatalf("err = %v, want *FailedError", err)
	}
	if ferr.Object.Name != "platform" || ferr.Status.Reason != meta.BuildFailedReason {
		t.Errorf("failed object %s %s", ferr.Object, ferr.Status)
	}
	if len(ferr.NotStarted) != 2 {
		t.Errorf("not started = %v, want data and apps", ferr.NotStarted)
	}
	msg := err.Error()
	for _, want := range []string{"Kustomization/flux-system/platform failed", "BuildFailed", "event: BuildFailed: accumulating resources: no such file", "not started: Kustomization/flux-system/data, Kustomization/flux-system/apps"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestWaitTimeoutNamesWhatIsNotReady(t *testing.T) {
	c := newClient(t, source(rev2), ks("apps", 1, 1, rev1, rev1, cond("True", "", "")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := Wait(ctx, c, Options{Interval: 5 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "Kustomization/flux-system/apps: progressing") {
		t.Fatalf("err = %v", err)
	}
}

func TestRequest(t *testing.T) {
	k := ks("apps", 1, 1, "", "", nil)
	k.Annotations = map[string]string{"keep": "me"}
	k.Spec.Path = "./apps"
	c := newClient(t, k)
	now := time.Date(2026, 11, 26, 1, 2, 3, 4, time.UTC)
	token, err := Request(context.Background(), c, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "flux-system"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := &kustomizev1.Kustomization{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(k), got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[meta.ReconcileRequestAnnotation] != token || token != "2026-11-26T01:02:03.000000004Z" {
		t.Errorf("annotation %q, token %q", got.Annotations[meta.ReconcileRequestAnnotation], token)
	}
	// Only the annotation is written, though the object given was empty.
	if got.Annotations["keep"] != "me" || got.Spec.Path != "./apps" {
		t.Errorf("request changed more than its annotation: annotations %v, path %q", got.Annotations, got.Spec.Path)
	}
}

// TestWaitWakesOnChange checks that a change to a watched object ends the
// wait without waiting for the next poll (here an hour away).
func TestWaitWakesOnChange(t *testing.T) {
	repo := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "gitops-local", Namespace: "flux-system"},
		Status:     sourcev1.OCIRepositoryStatus{Artifact: &meta.Artifact{Revision: rev2}},
	}
	k := ks("apps", 1, 1, rev1, rev1, cond("True", meta.ReconciliationSucceededReason, ""))
	c := newClient(t, repo, k)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	polls := make(chan struct{}, 100)
	go func() {
		<-polls // the first poll saw the old revision
		k.Status.LastAppliedRevision, k.Status.LastAttemptedRevision = rev2, rev2
		if err := c.Update(ctx, k); err != nil {
			t.Error(err)
		}
	}()
	res, err := Wait(ctx, c, Options{
		Interval: time.Hour,
		Wake:     Watch(ctx, c),
		EachPoll: func(context.Context, *Result) error { polls <- struct{}{}; return nil },
	})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := res.Objects[len(res.Objects)-1]; got.State != Ready {
		t.Errorf("%s is %s, want ready", got.Ref, got.Status)
	}
}

// appliedBy labels obj as applied by the Kustomization flux-system/name, as
// kustomize-controller does.
func appliedBy[T client.Object](obj T, name string) T {
	obj.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": name, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
	return obj
}

// TestWaitIgnoresAFailureUntilItsApplierHasAppliedTheRevision is up run
// again after fixing a HelmRelease's values: until the Kustomization that
// applies the HelmRelease has applied the pushed revision, the release's
// failure is the previous values' and must not end the wait; once it has,
// the failure is about what was pushed.
func TestWaitIgnoresAFailureUntilItsApplierHasAppliedTheRevision(t *testing.T) {
	failed := cond("False", helmv2.UpgradeFailedReason, "Deployment.apps \"ghillie\" is invalid")
	release := func() *helmv2.HelmRelease {
		h := appliedBy(hr(2, 2, "0.1.0", "", failed), "app")
		h.Status.LastAttemptedGeneration = 2
		return h
	}
	health := func(k *kustomizev1.Kustomization, revision string, gen int64) *kustomizev1.Kustomization {
		k.Status.Conditions = append(k.Status.Conditions, metav1.Condition{Type: meta.HealthyCondition, Status: metav1.ConditionUnknown, Reason: meta.ProgressingReason,
			Message: "Running health checks for revision " + revision + " with a timeout of 5m0s", ObservedGeneration: gen})
		return k
	}
	src := Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: "flux-system", Name: "gitops-local"}
	cases := []struct {
		name  string
		objs  []client.Object
		fails bool
	}{
		{"the source does not serve the push yet", []client.Object{source(rev1),
			ks("root", 1, 1, rev1, rev1, cond("True", "", "")),
			health(appliedBy(ks("app", 1, 1, rev1, rev1, cond("Unknown", meta.ProgressingReason, "")), "root"), rev1, 1),
			release()}, false},
		{"the applier has attempted the push, not applied it", []client.Object{source(rev2),
			ks("root", 1, 1, rev2, rev2, cond("True", "", "")),
			appliedBy(ks("app", 2, 1, rev1, rev2, cond("Unknown", meta.ProgressingReason, "Building manifests")), "root"),
			release()}, false},
		{"the applier checks health for the push with its previous spec", []client.Object{source(rev2),
			ks("root", 1, 1, rev2, rev2, cond("True", "", "")),
			health(appliedBy(ks("app", 3, 1, rev1, rev2, cond("Unknown", meta.ProgressingReason, "")), "root"), rev2, 2),
			release()}, false},
		{"the applier's applier has not applied the push", []client.Object{source(rev2),
			ks("root", 1, 1, rev1, rev2, cond("Unknown", meta.ProgressingReason, "Detecting drift")),
			health(appliedBy(ks("app", 1, 1, rev1, rev2, cond("Unknown", meta.ProgressingReason, "")), "root"), rev2, 1),
			release()}, false},
		{"the applier has applied the push and checks health", []client.Object{source(rev2),
			ks("root", 1, 1, rev2, rev2, cond("True", "", "")),
			health(appliedBy(ks("app", 1, 1, rev1, rev2, cond("Unknown", meta.ProgressingReason, "")), "root"), rev2, 1),
			release()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := Wait(ctx, newClient(t, tc.objs...), Options{Interval: 5 * time.Millisecond, Source: &src, SourceDigest: "sha256:bbb"})
			var ferr *FailedError
			switch {
			case tc.fails && (!errors.As(err, &ferr) || ferr.Object.Kind != helmv2.HelmReleaseKind):
				t.Fatalf("err = %v, want the HelmRelease's failure", err)
			case !tc.fails && errors.As(err, &ferr):
				t.Fatalf("a failure of the previous revision ended the wait: %v", err)
			case !tc.fails && !strings.Contains(fmt.Sprint(err), "HelmRelease/ghillie/ghillie: pending (ApplyPending): waiting for Kustomization/flux-system/"):
				t.Fatalf("err = %v, want the release waiting for its applier", err)
			}
		})
	}
}
