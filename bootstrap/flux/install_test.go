package flux_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// TestInstallOnRealControlPlane installs Flux from the embedded manifests on a
// real API server (pods faked Ready by kwok), then installs again and expects
// no change.
func TestInstallOnRealControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Start(ctx, t, testenv.WithoutFlux())
	c := testenv.Client(t, env)
	if err := apiextensionsv1.AddToScheme(c.Scheme()); err != nil {
		t.Fatal(err)
	}

	res, err := flux.Install(ctx, c, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed() {
		t.Fatalf("first install changed nothing: %+v", res.Changes)
	}

	for _, crd := range []string{"ocirepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io"} {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, types.NamespacedName{Name: crd}, got); err != nil {
			t.Errorf("CRD %s: %v", crd, err)
		}
	}
	want := map[string]string{
		"source-controller":    "ghcr.io/fluxcd/source-controller:" + versions.SourceController,
		"kustomize-controller": "ghcr.io/fluxcd/kustomize-controller:" + versions.KustomizeController,
		"helm-controller":      "ghcr.io/fluxcd/helm-controller:" + versions.HelmController,
	}
	for name, image := range want {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: flux.Namespace, Name: name}, d); err != nil {
			t.Fatalf("deployment %s: %v", name, err)
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
			t.Errorf("deployment %s image %q, want %q", name, got, image)
		}
		if d.Status.AvailableReplicas < 1 {
			t.Errorf("deployment %s not available after Install returned", name)
		}
	}

	again, err := flux.Install(ctx, c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() {
		t.Errorf("second install changed objects: %+v", again.Changes)
	}
}
