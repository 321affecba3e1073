package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Request asks the controller to reconcile obj now, by setting
// reconcile.fluxcd.io/requestedAt, and returns the token to wait for in
// status.lastHandledReconcileAt. It sends a merge patch of that one
// annotation, as flux reconcile does: writing back the whole object would
// send the fields as this tool's API types see them, and any difference (a
// field this version does not know, a default) would change the spec,
// bumping the generation and making helm-controller wait on a source that
// has nothing new.
func Request(ctx context.Context, c client.Client, obj client.Object, now time.Time) (string, error) {
	token := now.UTC().Format(time.RFC3339Nano)
	// Maps of strings always encode.
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{meta.ReconcileRequestAnnotation: token}}})
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", fmt.Errorf("requesting reconciliation of %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj), err)
	}
	return token, nil
}

// Options tune Wait.
type Options struct {
	// Interval between polls; default 500ms.
	Interval time.Duration
	// Tokens maps objects to the reconcile request each must have handled.
	Tokens map[Ref]string
	// Source, when set, is the OCIRepository that must first serve an
	// artifact whose revision ends in SourceDigest (the pushed manifest).
	Source       *Ref
	SourceDigest string
	// OnChange is called whenever an object's state changes.
	OnChange func(Ref, Status)
	// EachPoll, when set, runs after every poll; an error stops the wait.
	EachPoll func(context.Context, *Result) error
	// Wake, when set, makes Wait poll at once instead of at the next tick:
	// send on it when a watched object changes (see Watch), so that a
	// dependent is asked to reconcile as soon as its dependencies are ready.
	Wake <-chan struct{}
}

// Result is every object's final status, in dependency order.
type Result struct {
	Objects []ObjectResult `json:"objects"`

	// What the poll read, for Changes.Observe.
	kustomizations []kustomizev1.Kustomization
	helmReleases   []helmv2.HelmRelease
}

// ObjectResult is one object's final status.
type ObjectResult struct {
	Ref
	Status
	DependsOn []Ref `json:"dependsOn,omitempty"`
}

// FailedError says which object failed, why, and what will not start.
type FailedError struct {
	Object     Ref
	Status     Status
	Events     []string
	NotStarted []Ref
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed", e.Object)
	if e.Status.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Status.Reason)
	}
	if e.Status.Message != "" {
		b.WriteString(": " + e.Status.Message)
	}
	for _, ev := range e.Events {
		b.WriteString("\n  event: " + ev)
	}
	if len(e.NotStarted) > 0 {
		names := make([]string, len(e.NotStarted))
		for i, r := range e.NotStarted {
			names[i] = r.String()
		}
		b.WriteString("\n  not started: " + strings.Join(names, ", "))
	}
	return b.String()
}

// wakeGap is the least time between two polls that Options.Wake asked for.
const wakeGap = 100 * time.Millisecond

// Wait polls every Kustomization and HelmRelease in the cluster until each
// has applied its source's current revision and is Ready, following
// dependsOn. It returns a *FailedError as soon as one fails, and an error
// naming what is not done when ctx ends.
func Wait(ctx context.Context, c client.Reader, opts Options) (*Result, error) {
	if opts.Interval == 0 {
		opts.Interval = 500 * time.Millisecond
	}
	last := map[Ref]Status{}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	var res *Result
	for {
		polledAt := time.Now()
		polled, done, err := poll(ctx, c, opts)
		if err != nil {
			// client-go refuses a request it predicts would outlive the
			// deadline: that is the timeout too.
			if dl, ok := ctx.Deadline(); res != nil && (ctx.Err() != nil || ok && time.Until(dl) < 2*opts.Interval) {
				<-ctx.Done()
				return res, notDone(ctx, res)
			}
			return nil, err
		}
		res = polled
		for _, o := range res.Objects {
			if last[o.Ref] != o.Status && opts.OnChange != nil {
				opts.OnChange(o.Ref, o.Status)
			}
			last[o.Ref] = o.Status
		}
		if opts.EachPoll != nil {
			if err := opts.EachPoll(ctx, res); err != nil {
				return res, err
			}
		}
		if failed := firstFailed(res); failed != nil {
			ferr := &FailedError{Object: failed.Ref, Status: failed.Status}
			ferr.Events = recentEvents(ctx, c, failed.Ref, 5)
			for _, o := range res.Objects {
				if o.State == NotStarted {
					ferr.NotStarted = append(ferr.NotStarted, o.Ref)
				}
			}
			return res, ferr
		}
		if done {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, notDone(ctx, res)
		case <-t.C:
		case <-opts.Wake:
			// Changes come in bursts: poll at most every wakeGap.
			select {
			case <-ctx.Done():
				return res, notDone(ctx, res)
			case <-time.After(time.Until(polledAt.Add(wakeGap))):
			}
		}
	}
}

// notDone says why the wait ended and what was not ready then.
func notDone(ctx context.Context, res *Result) error {
	var pending []string
	for _, o := range res.Objects {
		if o.State != Ready {
			pending = append(pending, fmt.Sprintf("%s: %s", o.Ref, o.Status))
		}
	}
	return fmt.Errorf("%w; not ready:\n  %s", context.Cause(ctx), strings.Join(pending, "\n  "))
}

func firstFailed(res *Result) *ObjectResult {
	for i := range res.Objects {
		if res.Objects[i].State == Failed {
			return &res.Objects[i]
		}
	}
	return nil
}

// Snapshot reads every Kustomization and HelmRelease (and opts.Source)
// once and evaluates each as Wait would, without waiting.
func Snapshot(ctx context.Context, c client.Reader, opts Options) (*Result, error) {
	res, _, err := poll(ctx, c, opts)
	return res, err
}

// poll reads every object once and evaluates it.
func poll(ctx context.Context, c client.Reader, opts Options) (*Result, bool, error) {
	res := &Result{}
	status := map[Ref]Status{}
	deps := map[Ref][]Ref{}

	if opts.Source != nil {
		repo := &sourcev1.OCIRepository{}
		st := Status{State: Pending}
		if err := c.Get(ctx, types.NamespacedName{Namespace: opts.Source.Namespace, Name: opts.Source.Name}, repo); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, false, fmt.Errorf("reading %s: %w", opts.Source, err)
			}
		} else {
			st = SourceStatus(repo, opts.SourceDigest)
		}
		status[*opts.Source] = st
	}

	var ks kustomizev1.KustomizationList
	if err := c.List(ctx, &ks); err != nil {
		return nil, false, fmt.Errorf("listing Kustomizations: %w", err)
	}
	res.kustomizations = ks.Items
	type sourceState struct {
		rev   string
		ready bool
	}
	sources := map[Ref]sourceState{}
	applied := newAppliers()
	for i := range ks.Items {
		k := &ks.Items[i]
		ref := kusRef(k)
		want := Want{Token: opts.Tokens[ref]}
		src := Ref{Kind: k.Spec.SourceRef.Kind, Namespace: or(k.Spec.SourceRef.Namespace, k.Namespace), Name: k.Spec.SourceRef.Name}
		// Most Kustomizations share one source: read each once a poll.
		sr, ok := sources[src]
		if !ok {
			var err error
			sr.rev, sr.ready, err = sourceRevision(ctx, c, src)
			if err != nil {
				return nil, false, err
			}
			sources[src] = sr
		}
		rev, srcReady := sr.rev, sr.ready
		want.Revision = rev
		st := KustomizationStatus(k, want)
		if !srcReady && st.State != Pending {
			st = Status{State: Pending, Reason: "SourceNotReady", Message: "waiting for " + src.String(), Revision: st.Revision}
		}
		status[ref] = st
		applied.add(k, rev, srcReady && (opts.Source == nil || src != *opts.Source || status[*opts.Source].State == Ready))
		for _, d := range k.Spec.DependsOn {
			deps[ref] = append(deps[ref], Ref{Kind: kustomizev1.KustomizationKind, Namespace: or(d.Namespace, k.Namespace), Name: d.Name})
		}
		if opts.Source != nil && src == *opts.Source {
			deps[ref] = append(deps[ref], src)
		}
	}

	// A failure counts once whatever applied the object has applied the
	// wanted revision: before that it may be the previous revision's.
	for i := range ks.Items {
		k := &ks.Items[i]
		ref := kusRef(k)
		if st := status[ref]; st.State == Failed {
			if by, ok := applied.settled(k); !ok {
				status[ref] = waitingFor(by, applied.want[by], st)
			}
		}
	}

	var hs helmv2.HelmReleaseList
	if err := c.List(ctx, &hs); err != nil {
		return nil, false, fmt.Errorf("listing HelmReleases: %w", err)
	}
	res.helmReleases = hs.Items
	for i := range hs.Items {
		h := &hs.Items[i]
		ref := helmRef(h)
		want := Want{Token: opts.Tokens[ref]}
		switch {
		case h.Spec.ChartRef != nil:
			src := Ref{Kind: h.Spec.ChartRef.Kind, Namespace: or(h.Spec.ChartRef.Namespace, h.Namespace), Name: h.Spec.ChartRef.Name}
			repo := &sourcev1.OCIRepository{}
			if src.Kind == sourcev1.OCIRepositoryKind {
				// helm-controller records the digest of the source's
				// revision ("<tag>@sha256:…") as lastAttemptedRevisionDigest.
				if err := c.Get(ctx, types.NamespacedName{Namespace: src.Namespace, Name: src.Name}, repo); err == nil && repo.Status.Artifact != nil {
					rev := repo.Status.Artifact.Revision
					want.Revision = rev[strings.LastIndex(rev, "@")+1:]
				}
			}
		case h.Spec.Chart != nil:
			want.Revision = h.Spec.Chart.Spec.Version
		}
		st := HelmReleaseStatus(h, want)
		if st.State == Failed {
			if by, ok := applied.settled(h); !ok {
				st = waitingFor(by, applied.want[by], st)
			}
		}
		status[ref] = st
		for _, d := range h.Spec.DependsOn {
			deps[ref] = append(deps[ref], Ref{Kind: helmv2.HelmReleaseKind, Namespace: or(d.Namespace, h.Namespace), Name: d.Name})
		}
	}

	// A dependent of a failed or unstarted object will never start.
	order := topo(status, deps)
	done := true
	for _, ref := range order {
		st := status[ref]
		for _, d := range deps[ref] {
			if ds, ok := status[d]; ok && (ds.State == Failed || ds.State == NotStarted) && st.State != Ready {
				st = Status{State: NotStarted, Reason: "DependencyFailed", Message: d.String() + " failed", Revision: st.Revision}
			}
		}
		status[ref] = st
		if st.State != Ready {
			done = false
		}
		res.Objects = append(res.Objects, ObjectResult{Ref: ref, Status: st, DependsOn: deps[ref]})
	}
	return res, done, nil
}

// waitingFor is the status of an object whose failure may be stale until
// the Kustomization by has applied revision.
func waitingFor(by Ref, revision string, st Status) Status {
	msg := "waiting for " + by.String() + " to apply " + revision
	if revision == "" {
		msg = "waiting for " + by.String() + " to apply its current spec"
	}
	return Status{State: Pending, Reason: "ApplyPending", Message: msg + " (last: " + st.Reason + ")", Revision: st.Revision}
}

// SourceStatus says whether an OCIRepository serves the pushed digest.
func SourceStatus(repo *sourcev1.OCIRepository, digest string) Status {
	s := Status{State: Pending}
	if a := repo.Status.Artifact; a != nil {
		s.Revision = a.Revision
		if digest == "" || strings.HasSuffix(a.Revision, digest) {
			s.State = Ready
			return s
		}
	}
	for _, c := range repo.Status.Conditions {
		if c.Type == meta.ReadyCondition && string(c.Status) == "False" && repo.Status.ObservedGeneration == repo.Generation {
			s.Reason, s.Message = c.Reason, c.Message
			if failureReasons[c.Reason] || c.Reason == "OCIArtifactPullFailed" || c.Reason == "AuthenticationFailed" || c.Reason == "URLInvalid" {
				s.State = Failed
			}
		}
	}
	return s
}

// sourceRevision returns the current artifact revision of a Kustomization's
// source, and whether it has one.
func sourceRevision(ctx context.Context, c client.Reader, src Ref) (string, bool, error) {
	var obj interface {
		client.Object
		GetArtifact() *meta.Artifact
	}
	switch src.Kind {
	case sourcev1.OCIRepositoryKind:
		obj = &sourcev1.OCIRepository{}
	case sourcev1.GitRepositoryKind:
		obj = &sourcev1.GitRepository{}
	case sourcev1.BucketKind:
		obj = &sourcev1.Bucket{}
	default:
		return "", true, nil
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: src.Namespace, Name: src.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading %s: %w", src, err)
	}
	a := obj.GetArtifact()
	if a == nil {
		return "", false, nil
	}
	return a.Revision, true, nil
}

// topo orders refs so that dependencies come first (ties by name); cycles
// are broken arbitrarily (validate reports them).
func topo(status map[Ref]Status, deps map[Ref][]Ref) []Ref {
	refs := make([]Ref, 0, len(status))
	for r := range status {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	seen := map[Ref]int{} // 1 visiting, 2 done
	var out []Ref
	var visit func(Ref)
	visit = func(r Ref) {
		if seen[r] != 0 {
			return
		}
		seen[r] = 1
		for _, d := range deps[r] {
			if _, ok := status[d]; ok {
				visit(d)
			}
		}
		seen[r] = 2
		out = append(out, r)
	}
	for _, r := range refs {
		visit(r)
	}
	return out
}

// recentEvents returns the last n events about ref, oldest first, as
// "Reason: message". Errors reading events are not worth failing over.
func recentEvents(ctx context.Context, c client.Reader, ref Ref, n int) []string {
	var evs corev1.EventList
	if err := c.List(ctx, &evs, client.InNamespace(ref.Namespace)); err != nil {
		return nil
	}
	var mine []corev1.Event
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == ref.Kind && e.InvolvedObject.Name == ref.Name {
			mine = append(mine, e)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return eventTime(mine[i]).Before(eventTime(mine[j])) })
	if len(mine) > n {
		mine = mine[len(mine)-n:]
	}
	out := make([]string, len(mine))
	for i, e := range mine {
		out[i] = e.Reason + ": " + strings.TrimSpace(e.Message)
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
