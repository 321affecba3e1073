// Package scope decides whether a kind is namespaced, the one place the
// build and the checks ask. Built-in kinds are mapped by a RESTMapper made
// from the Kubernetes API server's own discovery document at the pinned
// version (see builtin_gen.go); custom kinds by the spec.scope of the CRDs
// an environment installs.
//
// It matters because kustomize-controller applies through fluxcd/pkg/ssa
// and the API server clears metadata.namespace of a cluster-scoped object
// (k8s.io/apiserver pkg/registry/rest/create.go, BeforeCreate), while
// kustomize's namespace transformer (targetNamespace, namespace:) sets it
// on every kind it does not know to be cluster-scoped, custom ones included.
package scope

//go:generate go run ./internal/gen -o builtin_gen.go

import (
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtinKind is one kind the API server serves.
type builtinKind struct {
	group, version, kind string
	cluster              bool
}

// builtin is the RESTMapper of the built-in kinds.
var builtin = sync.OnceValue(func() meta.RESTMapper {
	var gvs []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, k := range builtinKinds {
		gv := schema.GroupVersion{Group: k.group, Version: k.version}
		if !seen[gv] {
			seen[gv] = true
			gvs = append(gvs, gv)
		}
	}
	m := meta.NewDefaultRESTMapper(gvs)
	for _, k := range builtinKinds {
		s := meta.RESTScopeNamespace
		if k.cluster {
			s = meta.RESTScopeRoot
		}
		m.Add(schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind}, s)
	}
	return m
})

// BuiltinKinds are the kinds the API server serves at the pinned version,
// read from its discovery document: every version it serves of each, the
// preferred one first.
func BuiltinKinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, len(builtinKinds))
	for i, k := range builtinKinds {
		out[i] = schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind}
	}
	return out
}

// Scopes knows the scope of the built-in kinds and of the custom kinds
// whose CRDs were added. The zero value knows the built-in kinds.
type Scopes struct {
	custom map[schema.GroupKind]bool // namespaced
}

// AddCRD records the scope of the kind a CRD defines: spec.group,
// spec.names.kind and spec.scope ("Cluster" or "Namespaced"). The first
// CRD added for a kind wins.
func (s *Scopes) AddCRD(group, kind, crdScope string) {
	if kind == "" {
		return
	}
	if s.custom == nil {
		s.custom = map[schema.GroupKind]bool{}
	}
	gk := schema.GroupKind{Group: group, Kind: kind}
	if _, seen := s.custom[gk]; !seen {
		s.custom[gk] = crdScope != string(apiextensionsv1.ClusterScoped)
	}
}

// AddCRDObject is AddCRD for a CustomResourceDefinition object; other
// objects are ignored.
func (s *Scopes) AddCRDObject(o *unstructured.Unstructured) {
	gvk := o.GroupVersionKind()
	if gvk.Group != apiextensionsv1.GroupName || gvk.Kind != "CustomResourceDefinition" {
		return
	}
	group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
	sc, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
	s.AddCRD(group, kind, sc)
}

// AddCRDs is AddCRD for decoded CRDs.
func (s *Scopes) AddCRDs(crds ...*apiextensionsv1.CustomResourceDefinition) {
	for _, c := range crds {
		if c != nil {
			s.AddCRD(c.Spec.Group, c.Spec.Names.Kind, string(c.Spec.Scope))
		}
	}
}

// Namespaced reports whether objects of gvk live in a namespace, and
// whether that is known at all: a built-in kind (in any version the API
// server serves for its group and kind), else a kind of an added CRD.
func (s *Scopes) Namespaced(gvk schema.GroupVersionKind) (namespaced, known bool) {
	gk := gvk.GroupKind()
	m, err := builtin().RESTMapping(gk, gvk.Version)
	if err != nil {
		m, err = builtin().RESTMapping(gk)
	}
	if err == nil {
		return m.Scope.Name() == meta.RESTScopeNameNamespace, true
	}
	if s != nil {
		if ns, ok := s.custom[gk]; ok {
			return ns, true
		}
	}
	return false, false
}

// ClusterScoped reports whether gvk is known to have no namespace.
func (s *Scopes) ClusterScoped(gvk schema.GroupVersionKind) bool {
	ns, known := s.Namespaced(gvk)
	return known && !ns
}
