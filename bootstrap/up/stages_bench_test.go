package up_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/up"
)

// The Kustomizations a HelmRelease value edit in the local overlay goes
// through: the root applies overlays/local, which holds the HelmRelease's
// values as a patch of ghillie-app; ghillie-app depends on ghillie-data,
// which depends on the two platform Kustomizations, and all of them share
// the root's source, so each must apply the new revision before its
// dependent may (kustomize-controller's dependency check compares the
// dependency's lastAppliedRevision with the source's revision).
var pathKustomizations = []string{up.RootName, "platform-cloudnative-pg", "platform-valkey-operator", "ghillie-data", "ghillie-app"}

// seen is one object as a watch delivered it, stamped on arrival.
type seen struct {
	at  time.Time
	obj client.Object
}

// recorder keeps, with client-side arrival times, every change to the Flux
// objects and the Deployment on a HelmRelease edit's path.
type recorder struct {
	mu     sync.Mutex
	events map[string][]seen // by kind
	stop   context.CancelFunc
	done   sync.WaitGroup
}

// record starts the watches and returns once each is established, so that
// nothing written afterwards is missed.
func record(ctx context.Context, tb testing.TB, c client.WithWatch) *recorder {
	tb.Helper()
	ctx, stop := context.WithCancel(ctx)
	r := &recorder{events: map[string][]seen{}, stop: stop}
	for kind, list := range map[string]client.ObjectList{
		sourcev1.OCIRepositoryKind:    &sourcev1.OCIRepositoryList{},
		kustomizev1.KustomizationKind: &kustomizev1.KustomizationList{},
		helmv2.HelmReleaseKind:        &helmv2.HelmReleaseList{},
		"Deployment":                  &appsv1.DeploymentList{},
	} {
		w, err := c.Watch(ctx, list)
		if err != nil {
			stop()
			tb.Fatalf("watching %s: %v", kind, err)
		}
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			defer w.Stop()
			for ev := range w.ResultChan() {
				at := time.Now()
				o, ok := ev.Object.(client.Object)
				if ev.Type == watch.Error || !ok {
					continue
				}
				r.mu.Lock()
				r.events[kind] = append(r.events[kind], seen{at, o})
				r.mu.Unlock()
			}
		}()
	}
	return r
}

// close stops the watches and returns what they saw.
func (r *recorder) close() map[string][]seen {
	r.stop()
	r.done.Wait()
	return r.events
}

// first is the arrival time and object of the first change of kind that ok
// accepts; ok false when none did.
func first(evs []seen, ok func(client.Object) bool) (seen, bool) {
	for _, e := range evs {
		if ok(e.obj) {
			return e, true
		}
	}
	return seen{}, false
}

// before is the state of the path's objects before an edit.
type before struct {
	revision   string // the root source's artifact revision
	generation int64  // the HelmRelease's generation
}

func readBefore(ctx context.Context, tb testing.TB, c client.Client) before {
	tb.Helper()
	var repo sourcev1.OCIRepository
	if err := c.Get(ctx, client.ObjectKey{Namespace: up.RootName, Name: up.RootName}, &repo); err != nil {
		tb.Fatal(err)
	}
	var hr helmv2.HelmRelease
	if err := c.Get(ctx, client.ObjectKey{Namespace: up.App.Namespace, Name: up.App.Name}, &hr); err != nil {
		tb.Fatal(err)
	}
	b := before{generation: hr.Generation}
	if repo.Status.Artifact != nil {
		b.revision = repo.Status.Artifact.Revision
	}
	return b
}

// stageMoments finds, in what the recorder saw after the write at t0, the
// moments a HelmRelease value edit reaches on its way to the Deployment:
// the root source serving the new revision, each Kustomization of the path
// applying it, the HelmRelease getting its new generation, helm-controller
// first writing its status for it, the Deployment carrying the new pod
// annotation v, and the HelmRelease Ready for the new generation.
func stageMoments(tb testing.TB, evs map[string][]seen, t0 time.Time, old before, v string) map[string]time.Duration {
	tb.Helper()
	out := map[string]time.Duration{}
	named := func(ns, name string, ok func(client.Object) bool) func(client.Object) bool {
		return func(o client.Object) bool { return o.GetNamespace() == ns && o.GetName() == name && ok(o) }
	}
	src, found := first(evs[sourcev1.OCIRepositoryKind], named(up.RootName, up.RootName, func(o client.Object) bool {
		a := o.(*sourcev1.OCIRepository).Status.Artifact
		return a != nil && a.Revision != old.revision
	}))
	if !found {
		tb.Fatal("the root source never served a new revision")
	}
	rev := src.obj.(*sourcev1.OCIRepository).Status.Artifact.Revision
	out["source"] = src.at.Sub(t0)
	for _, k := range pathKustomizations {
		e, found := first(evs[kustomizev1.KustomizationKind], named(up.RootName, k, func(o client.Object) bool {
			return o.(*kustomizev1.Kustomization).Status.LastAppliedRevision == rev
		}))
		if !found {
			tb.Fatalf("Kustomization %s never applied %s", k, rev)
		}
		out["applied "+k] = e.at.Sub(t0)
		// When the Kustomization reported waiting on its dependencies,
		// and when a reconcile was requested (sync's nudge), if it did.
		ks := slices.DeleteFunc(slices.Clone(evs[kustomizev1.KustomizationKind]), func(e seen) bool { return e.obj.GetName() != k })
		if len(ks) == 0 {
			continue
		}
		token := ks[0].obj.GetAnnotations()[meta.ReconcileRequestAnnotation]
		for _, e := range ks[1:] {
			if e.obj.GetAnnotations()[meta.ReconcileRequestAnnotation] != token {
				out["requested "+k] = e.at.Sub(t0)
				break
			}
		}
		for _, e := range ks {
			c := apimeta.FindStatusCondition(e.obj.(*kustomizev1.Kustomization).Status.Conditions, meta.ReadyCondition)
			if c != nil && c.Reason == meta.DependencyNotReadyReason && e.at.After(t0) {
				out["waiting "+k] = e.at.Sub(t0)
				break
			}
		}
	}
	hrs := slices.DeleteFunc(slices.Clone(evs[helmv2.HelmReleaseKind]), func(e seen) bool {
		return e.obj.GetNamespace() != up.App.Namespace || e.obj.GetName() != up.App.Name
	})
	i := slices.IndexFunc(hrs, func(e seen) bool { return e.obj.GetGeneration() > old.generation })
	if i < 0 {
		tb.Fatal("the HelmRelease never got a new generation")
	}
	gen := hrs[i].obj.GetGeneration()
	out["hr generation"] = hrs[i].at.Sub(t0)
	status := hrs[i].obj.(*helmv2.HelmRelease).Status
	for _, e := range hrs[i+1:] {
		if e.obj.GetGeneration() == gen && !reflect.DeepEqual(e.obj.(*helmv2.HelmRelease).Status, status) {
			out["hr started"] = e.at.Sub(t0)
			break
		}
	}
	if _, ok := out["hr started"]; !ok {
		tb.Fatal("helm-controller never wrote the HelmRelease's status for its new generation")
	}
	ready, found := first(hrs, func(o client.Object) bool {
		h := o.(*helmv2.HelmRelease)
		c := apimeta.FindStatusCondition(h.Status.Conditions, meta.ReadyCondition)
		return h.Generation == gen && h.Status.ObservedGeneration == gen && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen
	})
	if !found {
		tb.Fatal("the HelmRelease never became Ready for its new generation")
	}
	out["hr ready"] = ready.at.Sub(t0)
	dep, found := first(evs["Deployment"], named(up.App.Namespace, up.App.Name, func(o client.Object) bool {
		return o.(*appsv1.Deployment).Spec.Template.Annotations["bench"] == v
	}))
	if !found {
		tb.Fatal("the Deployment never carried the new annotation")
	}
	out["deployment"] = dep.at.Sub(t0)
	return out
}

// median of ds; 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// stepKey is the metric name of a sync step: the first word of its name.
func stepKey(name string) string { return strings.ToLower(strings.Fields(name)[0]) }

// watchClient is a client that can watch the Flux objects and Deployments.
func (s *latencyStack) watchClient(tb testing.TB) client.WithWatch {
	tb.Helper()
	sch, err := up.Scheme()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := client.NewWithWatch(s.env.Config, client.Options{Scheme: sch})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// hrStages are the stages of a HelmRelease value edit, in the order they
// happen, each named by its metric and ending at a moment of stageMoments
// (validated and published come from the round's step durations).
var hrStages = []struct{ metric, moment string }{
	{"validated-s", "validated"},         // write → the round's validation done (includes the watch's debounce)
	{"publish-s", "published"},           // → the tree pushed to the registry
	{"source-s", "source"},               // → the root OCIRepository serves it (the round's reconcile request, source-controller)
	{"root-s", "applied " + up.RootName}, // → the root Kustomization has applied it
	{"kustomize-s", "hr generation"},     // → ghillie-app, its dependencies applied, has applied the HelmRelease's new spec
	{"hr-queue-s", "hr started"},         // → helm-controller writes the HelmRelease's status for the new generation
	{"helm-upgrade-s", "deployment"},     // → the Helm upgrade has updated the Deployment
	{"ready-s", "hr ready"},              // → the HelmRelease is Ready for the new generation
}

// hrChain are the dependsOn hops of the chain that ends in the Kustomization
// applying the HelmRelease (overlays/local/ghillie.yaml).
var hrChain = map[string][]string{
	"ghillie-data": {"platform-cloudnative-pg", "platform-valkey-operator"},
	"ghillie-app":  {"ghillie-data"},
}

// addStages adds one edit's stage durations to stages and prints every
// moment of the edit, from the write.
func addStages(b *testing.B, stages map[string][]time.Duration, m map[string]time.Duration, t0, start time.Time, sum *up.Summary) {
	steps := map[string]time.Duration{}
	for _, st := range sum.Steps {
		steps[stepKey(st.Name)] = st.Duration
	}
	m["validated"] = start.Add(steps["validate"]).Sub(t0)
	m["published"] = m["validated"] + steps["publish"]
	var prev time.Duration
	for _, st := range hrStages {
		stages[st.metric] = append(stages[st.metric], m[st.moment]-prev)
		prev = m[st.moment]
	}
	// Of kustomize-s, the time sync took to ask each Kustomization of the
	// chain to reconcile once its dependencies had applied the revision.
	var nudge time.Duration
	for dependent, deps := range hrChain {
		req, ok := m["requested "+dependent]
		if !ok {
			continue
		}
		var ready time.Duration
		for _, d := range deps {
			ready = max(ready, m["applied "+d])
		}
		nudge += req - ready
	}
	stages["nudge-s"] = append(stages["nudge-s"], nudge)
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %dms", k, m[k].Milliseconds())
	}
	// On stderr, one line per edit: a benchmark's log keeps only its first
	// ten lines, which the samples and the stage medians need.
	fmt.Fprintf(os.Stderr, "%s: edit moments from the write: %s\n", b.Name(), strings.Join(parts, ", "))
}

// reportStages reports the median of each stage.
func reportStages(b *testing.B, stages map[string][]time.Duration) {
	for _, st := range hrStages {
		b.ReportMetric(median(stages[st.metric]).Seconds(), st.metric)
	}
	b.ReportMetric(median(stages["nudge-s"]).Seconds(), "nudge-s")
}
