package reconcile

import (
	"context"
	"slices"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

var root = Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "flux-system"}

func strs(chs []Change) []string {
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = c.String()
	}
	return out
}

func TestEventChanges(t *testing.T) {
	cases := []struct {
		name, msg string
		want      []string
	}{
		{"change set", "ConfigMap/ghillie/probe created\nDeployment/ghillie/ghillie configured",
			[]string{"ConfigMap/ghillie/probe created", "Deployment/ghillie/ghillie configured"}},
		{"cluster-scoped", "Namespace/ghillie created\nClusterIssuer/letsencrypt configured",
			[]string{"Namespace/ghillie created", "ClusterIssuer/letsencrypt configured"}},
		{"garbage collection", "ConfigMap/ghillie/probe deleted", []string{"ConfigMap/ghillie/probe deleted"}},
		{"folded by the event recorder", "(combined from similar events): ConfigMap/ghillie/probe configured",
			[]string{"ConfigMap/ghillie/probe configured"}},
		{"dotted and colon names", "ClusterRole/system:cnpg.manager configured", []string{"ClusterRole/system:cnpg.manager configured"}},
		{"not a change set", "Reconciliation finished in 1.2s, next run in 10m0s", nil},
		{"health check", "Health check passed in 5.01s", nil},
		{"unchanged objects are not changes", "ConfigMap/ghillie/probe unchanged\nSecret/ghillie/x skipped", nil},
		{"a failure carries a partial change set",
			"Service/ghillie/x dry-run failed: invalid\nConfigMap/ghillie/probe created",
			[]string{"ConfigMap/ghillie/probe created"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strs(EventChanges(root, tc.msg))
			if !slices.Equal(got, tc.want) {
				t.Errorf("EventChanges(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestInventoryChanges(t *testing.T) {
	cases := []struct {
		name          string
		before, after map[string]bool
		want          []string
	}{
		{"nothing applied before", nil, set("ghillie_probe__ConfigMap", "_ghillie__Namespace"),
			[]string{"ConfigMap/ghillie/probe created", "Namespace/ghillie created"}},
		{"one added, one removed", set("ghillie_a__ConfigMap", "ghillie_b_apps_Deployment"), set("ghillie_b_apps_Deployment", "ghillie_c__ConfigMap"),
			[]string{"ConfigMap/ghillie/c created", "ConfigMap/ghillie/a deleted"}},
		{"same objects", set("ghillie_a__ConfigMap"), set("ghillie_a__ConfigMap"), nil},
		{"everything pruned", set("flux-system_ghillie-app_kustomize.toolkit.fluxcd.io_Kustomization"), set(),
			[]string{"Kustomization/flux-system/ghillie-app deleted"}},
		{"colon in a name", nil, set("_system__cnpg.manager_rbac.authorization.k8s.io_ClusterRole"),
			[]string{"ClusterRole/system:cnpg.manager created"}},
		{"not an inventory ID", nil, set("probe"), []string{"probe created"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strs(InventoryChanges(root, tc.before, tc.after))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReleaseChange(t *testing.T) {
	hr := Ref{Kind: "HelmRelease", Namespace: "ghillie", Name: "ghillie"}
	snap := func(v int, status string, action helmv2.ReleaseAction) *helmv2.Snapshot {
		return &helmv2.Snapshot{Version: v, Status: status, Action: action, ChartName: "ghillie", ChartVersion: "0.1.0"}
	}
	cases := []struct {
		name   string
		before int
		latest *helmv2.Snapshot
		want   string
	}{
		{"first install", 0, snap(1, "deployed", helmv2.ReleaseActionInstall), "HelmRelease/ghillie/ghillie installed (release v1, chart ghillie 0.1.0)"},
		{"upgrade", 2, snap(3, "deployed", helmv2.ReleaseActionUpgrade), "HelmRelease/ghillie/ghillie upgraded (release v3, chart ghillie 0.1.0)"},
		{"failed upgrade", 2, snap(3, "failed", helmv2.ReleaseActionUpgrade), "HelmRelease/ghillie/ghillie upgraded (release v3, chart ghillie 0.1.0, failed)"},
		{"rollback", 3, snap(4, "deployed", helmv2.ReleaseActionRollback), "HelmRelease/ghillie/ghillie rolled back (release v4, chart ghillie 0.1.0)"},
		{"still upgrading", 2, snap(3, "pending-upgrade", helmv2.ReleaseActionUpgrade), ""},
		{"no new release", 3, snap(3, "deployed", helmv2.ReleaseActionUpgrade), ""},
		{"no release yet", 0, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, ok := ReleaseChange(hr, tc.before, tc.latest)
			got := ""
			if ok {
				got = ch.String()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestObserveReportsEachChangeOnce follows a Kustomization through one
// apply: the inventory gives the created and deleted objects, the change
// set event the configured one; an event from before the push and one
// about another revision are not reported; nothing is reported twice.
func TestObserveReportsEachChangeOnce(t *testing.T) {
	ctx := context.Background()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kustomizev1.AddToScheme, helmv2.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	push := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
		Status: kustomizev1.KustomizationStatus{LastAppliedRevision: rev1, Inventory: &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
			{ID: "ghillie_old__ConfigMap", Version: "v1"}, {ID: "ghillie_ghillie_apps_Deployment", Version: "v1"},
		}}},
	}
	h := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "ghillie", Namespace: "ghillie"},
		Status:     helmv2.HelmReleaseStatus{History: helmv2.Snapshots{{Version: 2, Status: "deployed", ChartName: "ghillie", ChartVersion: "0.1.0"}}},
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(k, h).WithStatusSubresource(k, h).Build()
	tr, err := NewChanges(ctx, c, push)
	if err != nil {
		t.Fatal(err)
	}
	observe := func() ([]Change, error) {
		t.Helper()
		res, err := Snapshot(ctx, c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Observe(ctx, c, res)
	}
	if got, _ := observe(); len(got) != 0 {
		t.Fatalf("before any apply: %q", strs(got))
	}

	k.Status.LastAppliedRevision = rev2
	k.Status.Inventory.Entries = []kustomizev1.ResourceRef{{ID: "ghillie_new__ConfigMap", Version: "v1"}, {ID: "ghillie_ghillie_apps_Deployment", Version: "v1"}}
	if err := c.Status().Update(ctx, k); err != nil {
		t.Fatal(err)
	}
	event := func(name, msg, rev string, at time.Time) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "flux-system", Annotations: map[string]string{revisionAnnotation: rev}},
			InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "flux-system"},
			Message:        msg, Count: 1, LastTimestamp: metav1.NewTime(at),
		}
	}
	for _, e := range []client.Object{
		event("before", "ConfigMap/ghillie/stale configured", rev1, push.Add(-time.Minute)),
		event("other-revision", "ConfigMap/ghillie/other configured", rev1, push.Add(time.Second)),
		event("apply", "ConfigMap/ghillie/new created\nDeployment/ghillie/ghillie configured", rev2, push.Add(time.Second)),
	} {
		if err := c.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	h.Status.History = helmv2.Snapshots{{Version: 3, Status: "deployed", ChartName: "ghillie", ChartVersion: "0.1.0"}, h.Status.History[0]}
	if err := c.Status().Update(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, err := observe()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ConfigMap/ghillie/new created", "ConfigMap/ghillie/old deleted", "Deployment/ghillie/ghillie configured",
		"HelmRelease/ghillie/ghillie upgraded (release v3, chart ghillie 0.1.0)"}
	if !slices.Equal(strs(got), want) {
		t.Errorf("first observation = %q, want %q", strs(got), want)
	}
	if again, _ := observe(); len(again) != 0 {
		t.Errorf("reported twice: %q", strs(again))
	}
}
