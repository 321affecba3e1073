package conformance

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/leynos/gitops-local/bootstrap/gitops"
)

// checkBuiltinAPIVersions requires the built-in API versions the build
// shows charts (.Capabilities.APIVersions) to be what helm-controller sees
// from the API server: Helm's own action.GetVersionSet over the control
// plane's discovery, without the groups CRDs add (Flux's and the cases').
// Subresource kinds (apps/v1/Scale, v1/Eviction) are listed by discovery
// under their parent's version and are not modelled: they are compared
// apart, as the one known difference.
func checkBuiltinAPIVersions(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	crds, err := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crdGroups := map[string]bool{}
	for _, crd := range crds.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		crdGroups[group] = true
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served, err := action.GetVersionSet(dc)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	subresourceKinds := map[string]bool{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				subresourceKinds[path.Join(l.GroupVersion, r.Kind)] = true
			}
		}
	}
	// A kind listed both as a resource and as a subresource's kind
	// (v1/Binding: bindings and pods/binding) is a resource.
	for _, l := range lists {
		for _, r := range l.APIResources {
			if !strings.Contains(r.Name, "/") {
				delete(subresourceKinds, path.Join(l.GroupVersion, r.Kind))
			}
		}
	}
	var want []string
	for _, v := range served {
		group := strings.SplitN(v, "/", 2)[0]
		if crdGroups[group] || subresourceKinds[v] {
			continue
		}
		want = append(want, v)
	}
	slices.Sort(want)
	got := gitops.BuiltinAPIVersions()
	if !slices.Equal(got, want) {
		var missing, extra []string
		for _, v := range want {
			if !slices.Contains(got, v) {
				missing = append(missing, v)
			}
		}
		for _, v := range got {
			if !slices.Contains(want, v) {
				extra = append(extra, v)
			}
		}
		t.Errorf("the build's built-in API versions differ from the API server's discovery:\nmissing: %v\nnot served: %v", missing, extra)
	}
}
