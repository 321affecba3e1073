package logs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

const (
	tsKS = `"ts":"2026-11-26T10:00:00.123Z"`
	// A kustomize-controller reconciler line and a Flux event line.
	ksLine  = `{"level":"info",` + tsKS + `,"msg":"server-side apply completed","controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization","Kustomization":{"name":"apps","namespace":"flux-system"},"namespace":"flux-system","name":"apps","reconcileID":"1"}`
	evLine  = `{"level":"error",` + tsKS + `,"msg":"artifact not found","name":"flux-system","namespace":"flux-system","reconciler kind":"OCIRepository","reason":"Failed"}`
	errLine = `{"level":"error",` + tsKS + `,"msg":"Reconciler error","controllerKind":"HelmRelease","name":"db","namespace":"ghillie","error":"install retries exhausted"}`
)

func TestFluxLine(t *testing.T) {
	owned := map[reconcile.Ref]bool{
		{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}:        true,
		{Kind: "OCIRepository", Namespace: "flux-system", Name: "flux-system"}: true,
		{Kind: "HelmRelease", Namespace: "ghillie", Name: "db"}:                true,
	}
	cases := []struct {
		name          string
		line          string
		json, verbose bool
		want          string
	}{
		{name: "reconciler line about an owned Kustomization", line: ksLine,
			want: "2026-11-26T10:00:00.123Z info  kustomize-controller Kustomization/flux-system/apps: server-side apply completed"},
		{name: "event line about the root source", line: evLine,
			want: "2026-11-26T10:00:00.123Z error kustomize-controller OCIRepository/flux-system/flux-system: artifact not found"},
		{name: "error field appended", line: errLine,
			want: "2026-11-26T10:00:00.123Z error kustomize-controller HelmRelease/ghillie/db: Reconciler error: install retries exhausted"},
		{name: "epoch timestamp", line: `{"level":"info","ts":1795687200.5,"msg":"m","controllerKind":"HelmRelease","name":"db","namespace":"ghillie"}`,
			want: "2026-11-26T10:00:00.500Z info  kustomize-controller HelmRelease/ghillie/db: m"},
		{name: "same name in another namespace is not ours",
			line: strings.ReplaceAll(ksLine, `"namespace":"flux-system"`, `"namespace":"other"`)},
		{name: "same name, another kind is not ours",
			line: strings.ReplaceAll(ksLine, `"controllerKind":"Kustomization"`, `"controllerKind":"HelmRelease"`)},
		{name: "JSON line naming no object", line: `{"level":"info",` + tsKS + `,"msg":"Starting workers","controller":"kustomization"}`},
		{name: "json output passes the line as it is", line: evLine, json: true, want: evLine},
		{name: "json output still filters", line: strings.ReplaceAll(evLine, `"name":"flux-system"`, `"name":"x"`), json: true},
		{name: "plain line dropped", line: "I1126 10:00:00 starting"},
		{name: "plain line passes with -v", line: "I1126 10:00:00 starting", verbose: true,
			want: "kustomize-controller: I1126 10:00:00 starting"},
		{name: "broken JSON is a plain line", line: `{"level":`, verbose: true, want: `kustomize-controller: {"level":`},
		{name: "blank line dropped even with -v", line: "  ", verbose: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fluxFilter{owned: owned, now: time.Now}
			got := fluxLine(t.Context(), f, "kustomize-controller", tc.line, tc.json, tc.verbose)
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestOwnedObjects(t *testing.T) {
	ks := func(ns, name string) map[string]string {
		return map[string]string{kustomizeNameLabel: name, kustomizeNamespaceLabel: ns}
	}
	hr := map[string]string{helmNameLabel: "db", helmNamespaceLabel: "ghillie"}
	root := reconcile.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "flux-system"}
	source := reconcile.Ref{Kind: "OCIRepository", Namespace: "flux-system", Name: "flux-system"}
	objs := []fluxObject{
		{Ref: source},
		{Ref: reconcile.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}, Labels: ks("flux-system", "flux-system")},
		{Ref: reconcile.Ref{Kind: "HelmRepository", Namespace: "flux-system", Name: "charts"}, Labels: ks("flux-system", "flux-system")},
		// Managed by apps, so ours through it, listed before it is known.
		{Ref: reconcile.Ref{Kind: "HelmChart", Namespace: "flux-system", Name: "ghillie-db"}, Labels: hr},
		{Ref: reconcile.Ref{Kind: "HelmRelease", Namespace: "ghillie", Name: "db"}, Labels: ks("flux-system", "apps")},
		// Not ours: another tree, the right name in the wrong namespace,
		// no labels.
		{Ref: reconcile.Ref{Kind: "Kustomization", Namespace: "team", Name: "theirs"}, Labels: ks("team", "root")},
		{Ref: reconcile.Ref{Kind: "HelmRelease", Namespace: "team", Name: "cache"}, Labels: ks("team", "theirs")},
		{Ref: reconcile.Ref{Kind: "OCIRepository", Namespace: "team", Name: "x"}, Labels: ks("team", "flux-system")},
		{Ref: reconcile.Ref{Kind: "GitRepository", Namespace: "flux-system", Name: "loose"}},
	}
	got := ownedObjects(root, source, objs)
	var names []string
	for r := range got {
		names = append(names, r.String())
	}
	slices.Sort(names)
	want := []string{
		"HelmChart/flux-system/ghillie-db", "HelmRelease/ghillie/db", "HelmRepository/flux-system/charts",
		"Kustomization/flux-system/apps", "Kustomization/flux-system/flux-system", "OCIRepository/flux-system/flux-system",
	}
	if !slices.Equal(names, want) {
		t.Errorf("owned:\n got %v\nwant %v", names, want)
	}
}

// TestFluxFilterRereads checks that, following, an object not known yet is
// looked for again at most once per interval.
func TestFluxFilterRereads(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	late := reconcile.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "late"}
	reads := 0
	created := false
	f := &fluxFilter{
		read: func(context.Context) (map[reconcile.Ref]bool, error) {
			reads++
			return map[reconcile.Ref]bool{late: created}, nil
		},
		every: 10 * time.Second, now: func() time.Time { return now }, last: now,
		owned: map[reconcile.Ref]bool{},
	}
	steps := []struct {
		advance time.Duration
		created bool
		keep    bool
		reads   int
	}{
		{advance: 0, keep: false, reads: 0},                // read at start: too soon to read again
		{advance: 11 * time.Second, keep: false, reads: 1}, // reread, still absent
		{advance: 1 * time.Second, created: true, keep: false, reads: 1},
		{advance: 10 * time.Second, created: true, keep: true, reads: 2},
		{advance: 0, created: true, keep: true, reads: 2}, // known now: no read
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		created = s.created
		if got := f.keep(t.Context(), late); got != s.keep || reads != s.reads {
			t.Errorf("step %d: keep=%v after %d reads, want %v after %d", i, got, reads, s.keep, s.reads)
		}
	}
}

func TestAppLine(t *testing.T) {
	tg := target{Pod: "ghillie-7d9f-abcde", Container: "app"}
	cases := []struct {
		name             string
		prefixed, asJSON bool
		line, want       string
	}{
		{name: "one stream", line: "GET / 200", want: "GET / 200"},
		{name: "several streams", prefixed: true, line: "GET / 200", want: "[pod/ghillie-7d9f-abcde/app] GET / 200"},
		{name: "empty line keeps its prefix", prefixed: true, want: "[pod/ghillie-7d9f-abcde/app] "},
		{name: "json", asJSON: true, prefixed: true, line: `say "hi"`,
			want: `{"pod":"ghillie-7d9f-abcde","container":"app","message":"say \"hi\""}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := appLine(tg, tc.line, tc.prefixed, tc.asJSON); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func pod(name string, containers ...string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name)}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestCheckContainer(t *testing.T) {
	pods := []corev1.Pod{pod("ghillie-a", "app", "proxy"), pod("ghillie-b", "app", "migrate")}
	cases := []struct {
		container, wantErr string
	}{
		{container: ""},
		{container: "app"},
		{container: "migrate"}, // one pod has it: stream that one
		{container: "web", wantErr: `no container "web" in pods ghillie-a, ghillie-b: their containers are app, migrate, proxy`},
	}
	for _, tc := range cases {
		err := checkContainer(pods, tc.container)
		if got := errString(err); got != tc.wantErr {
			t.Errorf("checkContainer(%q) = %q, want %q", tc.container, got, tc.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func running(p corev1.Pod, restarts int32, names ...string) corev1.Pod {
	p = *p.DeepCopy()
	for _, n := range names {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: n, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return p
}

// TestTrackerStartsEachContainerOnce walks a rollout as the pod watch sees
// it: which streams start at each event.
func TestTrackerStartsEachContainerOnce(t *testing.T) {
	a := pod("ghillie-a", "app", "proxy")
	b := pod("ghillie-b", "app", "proxy")
	deleting := running(a, 0, "app", "proxy")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	crashed := a.DeepCopy()
	crashed.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 2,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}

	cases := []struct {
		name      string
		container string
		events    []corev1.Pod
		// want lists, per event, the streams started, as pod/container#restarts.
		want [][]string
		// waiting lists the containers of the last event not started.
		waiting []string
	}{
		{name: "pending then running", events: []corev1.Pod{a, running(a, 0, "app"), running(a, 0, "app", "proxy")},
			want: [][]string{nil, {"ghillie-a/app#0"}, {"ghillie-a/proxy#0"}}},
		{name: "the same event twice starts nothing", events: []corev1.Pod{running(a, 0, "app"), running(a, 0, "app")},
			want: [][]string{{"ghillie-a/app#0"}, nil}},
		{name: "a new pod of a rollout", events: []corev1.Pod{running(a, 0, "app", "proxy"), running(b, 0, "app", "proxy")},
			want: [][]string{{"ghillie-a/app#0", "ghillie-a/proxy#0"}, {"ghillie-b/app#0", "ghillie-b/proxy#0"}}},
		{name: "a restarted container is a new stream", events: []corev1.Pod{running(a, 0, "app"), running(a, 1, "app")},
			want: [][]string{{"ghillie-a/app#0"}, {"ghillie-a/app#1"}}},
		{name: "a crashed container still has logs", events: []corev1.Pod{*crashed}, want: [][]string{{"ghillie-a/app#2"}},
			waiting: []string{"proxy"}},
		{name: "a pod being deleted starts nothing", events: []corev1.Pod{deleting}, want: [][]string{nil}},
		{name: "only the chosen container", container: "proxy", events: []corev1.Pod{running(a, 0, "app"), running(a, 0, "app", "proxy")},
			want: [][]string{nil, {"ghillie-a/proxy#0"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker(tc.container)
			var waiting []string
			for i, ev := range tc.events {
				var start []target
				start, waiting = tr.update(&ev)
				var got []string
				for _, s := range start {
					got = append(got, fmt.Sprintf("%s/%s#%d", s.Pod, s.Container, s.Restarts))
				}
				if !slices.Equal(got, tc.want[i]) {
					t.Errorf("event %d: started %v, want %v", i, got, tc.want[i])
				}
			}
			if tc.waiting != nil && !slices.Equal(waiting, tc.waiting) {
				t.Errorf("waiting %v, want %v", waiting, tc.waiting)
			}
		})
	}
}
