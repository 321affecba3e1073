package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/oci"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/crane"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// artifact is pushed to the registry: a kustomization under deploy/ and a
// chart under hello/. helm-controller loads a chartRef'd OCIRepository's
// whole artifact as a chart archive, and Helm's archive loader drops the
// first path element of every file: hello/Chart.yaml becomes Chart.yaml, and
// deploy/'s files become non-template files of the chart. So an artifact
// can carry one chart beside other folders, as long as no other folder has a
// Chart.yaml, values.yaml or templates/ of its own.
var artifact = map[string]string{
	"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmap.yaml\n",
	"deploy/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kustomization\n  namespace: smoke\ndata:\n  source: oci\n",
	"hello/Chart.yaml":          "apiVersion: v2\nname: hello\nversion: 1.0.0\n",
	"hello/values.yaml":         "greeting: hello\n",
	"hello/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-from-chart\ndata:\n" +
		"  greeting: {{ .Values.greeting | quote }}\n",
}

// TestSmoke checks the stack end to end: kwok runs a Deployment's pods, and
// the real Flux controllers serve an artifact pushed to the loopback
// registry, apply a Kustomization from it and install a chart from it.
func TestSmoke(t *testing.T) {
	ctx := t.Context()
	env := Start(ctx, t)
	c := Client(t, env)
	const ns = "smoke"
	mustCreate(ctx, t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	t.Run("Deployment becomes Available on the kwok node", func(t *testing.T) {
		labels := map[string]string{"app": "smoke"}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.invalid/never-pulled:1",
					}}},
				},
			},
		}
		mustCreate(ctx, t, c, dep)
		waitFor(ctx, t, time.Minute, "Deployment smoke Available", func(ctx context.Context) (bool, string, error) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
				return false, "", err
			}
			for _, cond := range dep.Status.Conditions {
				if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue && dep.Status.AvailableReplicas == 2 {
					return true, "", nil
				}
			}
			return false, fmt.Sprintf("available %d/2, conditions %+v", dep.Status.AvailableReplicas, dep.Status.Conditions), nil
		})
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if !strings.HasPrefix(p.Status.PodIP, "127.") || !strings.HasPrefix(p.Status.HostIP, "127.") {
				t.Errorf("pod %s has IP %q on host %q: both must be loopback", p.Name, p.Status.PodIP, p.Status.HostIP)
			}
		}
	})

	dir := t.TempDir()
	for name, content := range artifact {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oc := oci.NewClient(append(oci.DefaultOptions(), crane.Insecure))
	pushed, err := oc.Push(ctx, env.RegistryPush+"/smoke/manifests:smoke", dir,
		oci.WithPushMetadata(oci.Metadata{Source: "gitops-local-testenv", Revision: "smoke"}))
	if err != nil {
		t.Fatalf("pushing the artifact to %s: %v", env.RegistryPush, err)
	}
	_, digest, _ := strings.Cut(pushed, "@")

	repo := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       "oci://" + env.RegistryPull + "/smoke/manifests",
			Reference: &sourcev1.OCIRepositoryRef{Tag: "smoke"},
			Insecure:  true,
			Interval:  metav1.Duration{Duration: time.Minute},
		},
	}
	if !t.Run("OCIRepository serves the pushed artifact", func(t *testing.T) {
		mustCreate(ctx, t, c, repo)
		// Ready is not enough: wait for the pushed revision.
		waitReady(ctx, t, c, repo, func() ([]metav1.Condition, string) {
			if a := repo.Status.Artifact; a == nil || a.Revision != "smoke@"+digest {
				return nil, fmt.Sprintf("artifact %+v, want revision smoke@%s", repo.Status.Artifact, digest)
			}
			return repo.Status.Conditions, ""
		})
	}) {
		t.FailNow()
	}

	t.Run("Kustomization applies the artifact", func(t *testing.T) {
		ks := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: repo.Name},
				Path:      "./deploy",
				Prune:     true,
				Interval:  metav1.Duration{Duration: time.Minute},
			},
		}
		mustCreate(ctx, t, c, ks)
		waitReady(ctx, t, c, ks, func() ([]metav1.Condition, string) {
			if want := "smoke@" + digest; ks.Status.LastAppliedRevision != want {
				return nil, fmt.Sprintf("last applied revision %q, want the source's %q", ks.Status.LastAppliedRevision, want)
			}
			return ks.Status.Conditions, ""
		})
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "from-kustomization"}, cm); err != nil {
			t.Fatalf("the Kustomization's ConfigMap: %v", err)
		}
	})

	t.Run("HelmRelease installs the chart from the artifact", func(t *testing.T) {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: repo.Name},
				Interval: metav1.Duration{Duration: time.Minute},
			},
		}
		mustCreate(ctx, t, c, hr)
		waitReady(ctx, t, c, hr, func() ([]metav1.Condition, string) { return hr.Status.Conditions, "" })
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "smoke-from-chart"}, cm); err != nil {
			t.Fatalf("the chart's ConfigMap: %v", err)
		}
		if cm.Data["greeting"] != "hello" {
			t.Errorf("chart ConfigMap data %v, want greeting=hello", cm.Data)
		}
	})
}

func mustCreate(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitReady waits until obj's Ready condition is True for its current
// generation. conds returns obj's conditions once it is otherwise done, or
// why it is not.
func waitReady(ctx context.Context, t *testing.T, c client.Client, obj client.Object, conds func() ([]metav1.Condition, string)) {
	t.Helper()
	kind := fmt.Sprintf("%T", obj)
	waitFor(ctx, t, 2*time.Minute, kind+" "+obj.GetName()+" Ready", func(ctx context.Context) (bool, string, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, "", err
		}
		cs, notDone := conds()
		if notDone != "" {
			return false, notDone, nil
		}
		r := apimeta.FindStatusCondition(cs, meta.ReadyCondition)
		if r != nil && r.Status == metav1.ConditionTrue && r.ObservedGeneration == obj.GetGeneration() {
			return true, "", nil
		}
		return false, fmt.Sprintf("conditions %+v", cs), nil
	})
}

func waitFor(ctx context.Context, t *testing.T, timeout time.Duration, what string, check func(context.Context) (bool, string, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var state string
	for {
		ok, s, err := check(ctx)
		if ok {
			t.Logf("%s after %s", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if err != nil {
			s = err.Error()
		}
		state = s
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s: %s", what, timeout, state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
