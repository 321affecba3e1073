package flux

import (
	"bytes"
	"context"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/flux/internal/manifestgen"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// TestManifestsMatchPins proves the embedded manifests install exactly the
// pinned controller versions and serve the API versions the tool imports.
func TestManifestsMatchPins(t *testing.T) {
	objs, err := Manifests()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{}
	served := map[string]bool{}        // group/version/kind
	crdVersions := map[string]string{} // component -> app.kubernetes.io/version of its CRDs
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			if o.GetNamespace() != Namespace {
				t.Errorf("deployment %s in namespace %q, want %q", o.GetName(), o.GetNamespace(), Namespace)
			}
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range cs {
				img, _ := c.(map[string]any)["image"].(string)
				images[o.GetName()] = img
			}
			if sa, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName"); sa != o.GetName() {
				t.Errorf("deployment %s runs as service account %q, want its own", o.GetName(), sa)
			}
		case "CustomResourceDefinition":
			l := o.GetLabels()
			crdVersions[l["app.kubernetes.io/component"]] = l["app.kubernetes.io/version"]
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			vs, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
			for _, v := range vs {
				vm := v.(map[string]any)
				if vm["served"] == true {
					served[group+"/"+vm["name"].(string)+"/"+kind] = true
				}
			}
		}
	}
	want := map[string]string{
		"source-controller":    "ghcr.io/fluxcd/source-controller:" + versions.SourceController,
		"kustomize-controller": "ghcr.io/fluxcd/kustomize-controller:" + versions.KustomizeController,
		"helm-controller":      "ghcr.io/fluxcd/helm-controller:" + versions.HelmController,
	}
	for name, img := range want {
		if images[name] != img {
			t.Errorf("deployment %s image = %q, want %q", name, images[name], img)
		}
	}
	if len(images) != len(want) {
		t.Errorf("deployments %v, want only %d: the other controllers contribute CRDs only", images, len(want))
	}
	for component, v := range map[string]string{
		"source-controller": versions.SourceController, "kustomize-controller": versions.KustomizeController,
		"helm-controller": versions.HelmController, "notification-controller": versions.NotificationController,
		"image-reflector-controller": versions.ImageReflectorController, "image-automation-controller": versions.ImageAutomationController,
		"source-watcher": versions.SourceWatcher,
	} {
		if crdVersions[component] != v {
			t.Errorf("CRDs of %s at %q, want the pinned %s", component, crdVersions[component], v)
		}
	}
	for _, gvk := range []string{
		sourcev1.GroupVersion.String() + "/" + sourcev1.OCIRepositoryKind,
		sourcev1.GroupVersion.String() + "/" + sourcev1.HelmRepositoryKind,
		sourcev1.GroupVersion.String() + "/" + sourcev1.HelmChartKind,
		sourcev1.GroupVersion.String() + "/" + sourcev1.GitRepositoryKind,
		kustomizev1.GroupVersion.String() + "/" + kustomizev1.KustomizationKind,
		helmv2.GroupVersion.String() + "/" + helmv2.HelmReleaseKind,
		// CRDs only: validate checks these kinds against them.
		"notification.toolkit.fluxcd.io/v1beta3/Alert",
		"notification.toolkit.fluxcd.io/v1beta3/Provider",
		"notification.toolkit.fluxcd.io/v1/Receiver",
		"image.toolkit.fluxcd.io/v1/ImageRepository",
		"image.toolkit.fluxcd.io/v1/ImagePolicy",
		"image.toolkit.fluxcd.io/v1/ImageUpdateAutomation",
		"source.extensions.fluxcd.io/v1beta1/ArtifactGenerator",
	} {
		if !served[gvk] {
			t.Errorf("embedded CRDs do not serve %s, which the tool uses", gvk)
		}
	}
}

// TestManifestsUpToDate regenerates the manifests from the pinned controller
// modules and fails if the embedded copy differs: run `go generate
// ./bootstrap/flux` after changing a Flux pin.
func TestManifestsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: regenerating needs the Flux controller modules (go mod download)")
	}
	got, err := manifestgen.Generate(context.Background(), manifestgen.GoModDownload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, manifestYAML) {
		t.Fatal("bootstrap/flux/manifests/flux.yaml is stale: run `go generate ./bootstrap/flux`")
	}
}
