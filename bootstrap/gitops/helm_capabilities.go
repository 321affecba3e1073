package gitops

import (
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/scope"
)

// apiVersionSet is the API versions a chart's templates see in
// .Capabilities.APIVersions: for each version served, "group/version" and
// "group/version/Kind", as Helm's action.GetVersionSet lists them from
// discovery (helm.sh/helm/v4 pkg/action/action.go, v4.2.4) for
// helm-controller.
type apiVersionSet map[string]bool

// addCRD adds the served versions of o, if it is a CustomResourceDefinition.
func (s apiVersionSet) addCRD(o *unstructured.Unstructured) {
	gvk := o.GroupVersionKind()
	if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
		return
	}
	group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
	if group == "" || kind == "" {
		return
	}
	versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		served, _ := m["served"].(bool)
		if name == "" || !served {
			continue
		}
		s[group+"/"+name] = true
		s[path.Join(group, name, kind)] = true
	}
	// apiextensions.k8s.io/v1beta1 CRDs may name one version only.
	if v, _, _ := unstructured.NestedString(o.Object, "spec", "version"); v != "" && len(versions) == 0 {
		s[group+"/"+v] = true
		s[path.Join(group, v, kind)] = true
	}
}

// sorted lists the set, sorted.
func (s apiVersionSet) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// fluxAPIVersions are the API versions of the CRDs of the pinned Flux
// install, present in every cluster the environments are deployed to.
var fluxAPIVersions = sync.OnceValue(func() apiVersionSet {
	s := apiVersionSet{}
	objs, err := flux.Manifests()
	if err != nil {
		return s // the embedded manifests are checked by package flux's tests
	}
	for _, o := range objs {
		s.addCRD(o)
	}
	return s
})

// builtinAPIVersions are the group/versions and "group/version/Kind" of
// the built-in APIs the pinned Kubernetes serves by default, as its
// discovery lists them to helm-controller. They replace Helm's client-only
// defaults (every group/version client-go knows, long-removed ones such as
// batch/v1beta1 included, and no kinds), so that a chart choosing an API
// by .Capabilities.APIVersions.Has chooses as it does in the cluster.
// The kinds are the API server's own discovery document (package scope,
// which lists every version it can serve), less those it does not serve
// by default: alpha versions, and beta versions introduced from
// Kubernetes 1.24 on (KEP-3136), as the types' generated
// prerelease-lifecycle methods in the Kubernetes client's scheme say.
// TestConformance compares the set with a real API server's discovery.
var builtinAPIVersions = sync.OnceValue(func() apiVersionSet {
	s := apiVersionSet{}
	for _, gvk := range scope.BuiltinKinds() {
		if !servedByDefault(gvk) {
			continue
		}
		gv := gvk.GroupVersion().String()
		s[gv] = true
		s[gv+"/"+gvk.Kind] = true
	}
	return s
})

// servedByDefault reports whether the API server serves gvk unless told
// otherwise: a GA version, or a beta one introduced before Kubernetes
// 1.24 (a beta kind the client's scheme does not know is taken as off).
func servedByDefault(gvk schema.GroupVersionKind) bool {
	switch {
	case strings.Contains(gvk.Version, "alpha"):
		return false
	case !strings.Contains(gvk.Version, "beta"):
		return true
	}
	t, ok := scheme.Scheme.AllKnownTypes()[gvk]
	if !ok {
		return false
	}
	i, ok := reflect.New(t).Interface().(interface{ APILifecycleIntroduced() (int, int) })
	if !ok {
		return false
	}
	major, minor := i.APILifecycleIntroduced()
	return major == 1 && minor < 24
}

// BuiltinAPIVersions lists builtinAPIVersions, sorted.
func BuiltinAPIVersions() []string { return builtinAPIVersions().sorted() }

// baseAPIVersions is what every chart of the environment sees: the
// built-in APIs, Flux's CRDs and those the environment's manifests apply.
func (b *builder) baseAPIVersions() apiVersionSet {
	s := apiVersionSet{}
	for _, set := range []apiVersionSet{builtinAPIVersions(), fluxAPIVersions()} {
		for v := range set {
			s[v] = true
		}
	}
	for _, blk := range b.blocks {
		for _, o := range blk.objects {
			s.addCRD(o.Unstructured)
		}
	}
	return s
}
