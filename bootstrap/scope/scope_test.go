package scope

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

func TestBuiltinKindsMatchThePin(t *testing.T) {
	if builtinVersion != versions.Kubernetes {
		t.Errorf("builtin_gen.go was generated from Kubernetes %s, the pin is %s: run go generate ./bootstrap/scope", builtinVersion, versions.Kubernetes)
	}
}

func TestNamespaced(t *testing.T) {
	var s Scopes
	s.AddCRDObject(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{"group": "example.com", "scope": "Cluster",
			"names": map[string]any{"kind": "Widget", "plural": "widgets"}},
	}})
	s.AddCRD("example.com", "Gadget", "Namespaced")
	s.AddCRD("example.com", "Gadget", "Cluster") // the first CRD for a kind wins
	for _, tc := range []struct {
		gvk               schema.GroupVersionKind
		namespaced, known bool
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, false, true},
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, true, true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, false, true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, true, true},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass"}, false, true},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, true, true},
		// A version the server does not serve still has its kind's scope.
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1beta1", Kind: "ClusterRole"}, false, true},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, false, true},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Gadget"}, true, true},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Unknown"}, false, false},
	} {
		ns, known := s.Namespaced(tc.gvk)
		if ns != tc.namespaced || known != tc.known {
			t.Errorf("%s: namespaced %t known %t, want %t %t", tc.gvk, ns, known, tc.namespaced, tc.known)
		}
	}
	var zero *Scopes
	if ns, known := zero.Namespaced(schema.GroupVersionKind{Version: "v1", Kind: "Secret"}); !ns || !known {
		t.Error("a nil Scopes does not know the built-in kinds")
	}
}
