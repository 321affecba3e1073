package gitops

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestLocalImageIDReachesThePodTemplate: the local environment's
// APP_IMAGE_ID cluster variable (which `up` sets to the imported image's
// ID) lands in the app Deployment's pod template, as kustomize-controller's
// post-build substitution and helm-controller's render put it there; so a
// rebuilt ghillie:local, whose tag does not change, still changes the
// release and rolls the pods.
func TestLocalImageIDReachesThePodTemplate(t *testing.T) {
	cache := seededCache(t, false)
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	annotation := func(vars map[string]string) string {
		e := build(t, repoRoot, "local", Options{ChartCache: cache, Vars: vars})
		for _, o := range e.Objects {
			u := unstructured.Unstructured{Object: o.Object}
			if u.GetKind() == "Deployment" && u.GetName() == "ghillie" {
				v, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "annotations", "gitops-local.leynos.github.io/image-id")
				return v
			}
		}
		t.Fatal("no Deployment ghillie in the local environment")
		return ""
	}
	if got := annotation(map[string]string{"APP_IMAGE_ID": id}); got != id {
		t.Errorf("pod template image-id = %q, want %q", got, id)
	}
	if got := annotation(nil); got != "none" {
		t.Errorf("pod template image-id without up = %q, want the placeholder of cluster-vars.env", got)
	}
}
