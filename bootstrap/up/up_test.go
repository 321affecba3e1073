package up_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/internal/conformance"
	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
	"github.com/leynos/gitops-local/bootstrap/status"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/up"
)

// seededCache is an offline chart cache holding the real upstream archives
// of every pinned platform chart: sync validates every environment.
func seededCache(t testing.TB) *chartcache.Cache {
	t.Helper()
	return testutil.ChartCache(t, filepath.Join("..", ".."), false)
}

// standInForOperators does, until ctx ends, the two things the absent
// operator pods would do and nothing else:
//  1. CloudNativePG's webhooks are served by its operator pod, which does not
//     run here: their configurations are removed so Clusters are accepted.
//  2. The operators create the Secrets "<cluster>-app" and "<valkey>": the
//     test creates them once the namespace exists.
func standInForOperators(ctx context.Context, t testing.TB, c client.Client, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		secretsMade := false
		for ctx.Err() == nil {
			// Only once Helm has installed them: helm-controller waits on
			// every object of the release, these two included.
			if released(ctx, c, "cnpg-system", "cloudnative-pg") {
				_ = c.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cnpg-mutating-webhook-configuration"}})
				_ = c.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cnpg-validating-webhook-configuration"}})
			}
			if !secretsMade {
				ns := &corev1.Namespace{}
				if err := c.Get(ctx, types.NamespacedName{Name: up.App.Namespace}, ns); err == nil {
					for _, s := range operatorSecrets() {
						if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
							t.Errorf("stand-in secret %s: %v", s.Name, err)
						}
					}
					secretsMade = true
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
}

// released reports whether the HelmRelease is Ready.
func released(ctx context.Context, c client.Client, ns, name string) bool {
	hr := &helmv2.HelmRelease{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, hr); err != nil {
		return false
	}
	return apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.ReadyCondition)
}

func operatorSecrets() []*corev1.Secret {
	ns := up.App.Namespace
	return []*corev1.Secret{
		{
			ObjectMeta: metav1.ObjectMeta{Name: up.App.PostgresCluster + "-app", Namespace: ns},
			Type:       corev1.SecretTypeBasicAuth,
			StringData: map[string]string{
				"username": "ghillie", "password": "test-only-pw", "dbname": "ghillie",
				"host": up.App.PostgresCluster + "-rw", "port": "5432",
				"uri": "postgresql://ghillie:test-only-pw@" + up.App.PostgresCluster + "-rw." + ns + ":5432/ghillie",
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: up.App.Valkey, Namespace: ns},
			StringData: map[string]string{"password": "test-only-valkey"},
		},
	}
}

func TestUpOnRealControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := testenv.Start(ctx, t)
	c := testenv.Client(t, env)
	cache := seededCache(t)

	standCtx, stopStandIn := context.WithCancel(ctx)
	var wg sync.WaitGroup
	standInForOperators(standCtx, t, c, &wg)
	defer func() { stopStandIn(); wg.Wait() }()

	opts := up.Options{
		RepoRoot:     filepath.Join("..", ".."),
		Config:       env.Config,
		RegistryPush: env.RegistryPush,
		RegistryPull: env.RegistryPull,
		Charts:       cache,
		Timeout:      5 * time.Minute,
	}
	var out bytes.Buffer
	rep := progress.New(&out, true)
	opts.Log = rep
	start := time.Now()
	sum, err := up.Run(ctx, rep, opts)
	t.Logf("first up took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sum.Objects {
		if o.State != reconcile.Ready {
			t.Errorf("%s is %s after up returned", o.Ref, o.Status)
		}
	}
	names := map[string]bool{}
	for _, o := range sum.Objects {
		names[o.Kind+"/"+o.Name] = true
	}
	for _, want := range []string{"Kustomization/flux-system", "Kustomization/platform-cloudnative-pg", "Kustomization/platform-valkey-operator",
		"Kustomization/ghillie-data", "Kustomization/ghillie-app", "HelmRelease/cloudnative-pg", "HelmRelease/valkey-operator", "HelmRelease/ghillie"} {
		if !names[want] {
			t.Errorf("up did not wait on %s (waited on %v)", want, names)
		}
	}

	// The app runs the imported image behind a hostless Ingress.
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, d); err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghillie:local" {
		t.Errorf("deployment image %q, want ghillie:local", img)
	}
	if d.Status.AvailableReplicas < 1 {
		t.Errorf("deployment not available")
	}
	ing := &networkingv1.Ingress{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, ing); err != nil {
		t.Fatal(err)
	}
	if ing.Spec.IngressClassName != nil || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "" {
		t.Errorf("ingress not hostless and class-less: %+v", ing.Spec)
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: up.App.Name}, s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"DATABASE_URL", "GHILLIE_DATABASE_URL", "VALKEY_URL"} {
		if len(s.Data[k]) == 0 {
			t.Errorf("secret ghillie lacks %s", k)
		}
	}
	if !strings.HasPrefix(string(s.Data["GHILLIE_DATABASE_URL"]), "postgresql+asyncpg://") {
		t.Errorf("GHILLIE_DATABASE_URL is not in asyncpg form")
	}
	for _, gvk := range [][2]string{{"postgresql.cnpg.io/v1", "Cluster"}, {"hyperspike.io/v1", "Valkey"}} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(gvk[0])
		u.SetKind(gvk[1])
		name := up.App.PostgresCluster
		if gvk[1] == "Valkey" {
			name = up.App.Valkey
		}
		if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: name}, u); err != nil {
			t.Errorf("%s %s: %v", gvk[1], name, err)
		}
	}
	// status sees the same: node, controllers at the pinned images, every
	// Flux object Ready, the app's pod Ready.
	st, err := status.Collect(ctx, c, status.Options{Server: env.Config.Host, AppNamespace: up.App.Namespace,
		AppSelector: map[string]string{"app.kubernetes.io/name": "ghillie"}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready() || len(st.Nodes) == 0 || !st.Nodes[0].Ready || len(st.Controllers) != 3 || len(st.Pods) != 1 || !st.Pods[0].Ready {
		t.Errorf("status after up: %+v", st)
	}
	for _, ctl := range st.Controllers {
		if !strings.HasPrefix(ctl.Image, "ghcr.io/fluxcd/"+ctl.Name+":v") {
			t.Errorf("controller %s runs %s", ctl.Name, ctl.Image)
		}
	}

	if strings.Contains(out.String(), "test-only-pw") || strings.Contains(out.String(), "test-only-valkey") {
		t.Errorf("up printed a secret value")
	}

	// Conformance of the local environment: what the controllers applied
	// is what the offline build of overlays/local produces with the
	// cluster's own variables.
	vars := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: gitops.FluxNamespace, Name: gitops.VarsConfigMap}, vars); err != nil {
		t.Fatal(err)
	}
	built, err := gitops.Build(ctx, opts.RepoRoot, "local", gitops.Options{Offline: true, ChartCache: cache, Vars: vars.Data})
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Findings) > 0 {
		t.Errorf("the offline build of local has findings: %v", built.Findings)
	}
	if diffs := conformance.CompareCluster(ctx, t, c, built); len(diffs) > 0 {
		t.Errorf("the offline build of local and the controllers differ in %d places:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}

	// Again, with nothing changed: nothing pushed, nothing applied.
	out.Reset()
	start = time.Now()
	again, err := up.Run(ctx, rep, opts)
	t.Logf("second up took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Artifact.Skipped {
		t.Errorf("unchanged tree pushed again")
	}
	for _, ch := range again.Charts {
		if !ch.Skipped {
			t.Errorf("unchanged chart %s pushed again", ch.URL)
		}
	}
	if len(again.Changed) != 0 {
		t.Errorf("second up changed %v", again.Changed)
	}
}
