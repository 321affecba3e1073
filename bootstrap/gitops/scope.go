package gitops

import (
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/scope"
)

// clearClusterScopedNamespaces clears metadata.namespace of every object
// whose kind is cluster-scoped: a built-in one, or one a CRD among objs
// defines with spec.scope Cluster. kustomize's namespace transformer
// (targetNamespace, namespace:) sets a namespace on every kind it does not
// know to be cluster-scoped, custom kinds included, and a manifest may
// carry one; kustomize-controller applies through fluxcd/pkg/ssa and the
// API server clears it (k8s.io/apiserver pkg/registry/rest/create.go,
// BeforeCreate), so the object the cluster holds has none.
func clearClusterScopedNamespaces(objs []manifest.Object) {
	var s scope.Scopes
	for _, o := range objs {
		s.AddCRDObject(o.Unstructured)
	}
	for _, o := range objs {
		if o.GetNamespace() != "" && s.ClusterScoped(o.GroupVersionKind()) {
			o.SetNamespace("")
		}
	}
}
