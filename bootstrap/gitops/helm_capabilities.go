package gitops

import (
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/leynos/gitops-local/bootstrap/flux"
)

// apiVersionSet is the API versions a chart's templates see in
// .Capabilities.APIVersions beyond Helm's built-in ones: for each CRD
// version served, "group/version" and "group/version/Kind", as Helm's
// action.GetVersionSet lists them from discovery (helm.sh/helm/v4
// pkg/action/action.go, v4.2.4).
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

// builtinKinds are "group/version/Kind" of the built-in APIs the pinned
// Kubernetes serves. Helm's default version set (what a client-only render
// sees) lists group/versions only, where discovery also lists each
// resource's kind: a chart guarded by
// .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" renders it
// in the cluster. They are the kinds the Kubernetes client's scheme
// registers at Helm's default group/versions (to which Helm adds
// apiextensions.k8s.io), without list and option types, and without those
// the API server does not serve by default at that version: removed ones,
// alpha ones, and beta ones introduced from Kubernetes 1.24 on (as the
// types' generated prerelease-lifecycle methods say). Discovery also lists
// subresource kinds (Scale, Eviction): those are not here.
var builtinKinds = sync.OnceValue(func() apiVersionSet {
	major, minor := kubeMajorMinor()
	before := func(maj, min int) bool { return maj < major || maj == major && min <= minor }
	gvs := map[string]bool{}
	for _, gv := range common.DefaultVersionSet {
		gvs[gv] = true
	}
	s := apiVersionSet{}
	for gvk, t := range scheme.Scheme.AllKnownTypes() {
		gv := gvk.GroupVersion().String()
		pkg := t.PkgPath()
		builtin := strings.HasPrefix(pkg, "k8s.io/api/") || pkg == "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
		if !gvs[gv] || !builtin || strings.HasSuffix(gvk.Kind, "List") || strings.Contains(gvk.Version, "alpha") {
			continue
		}
		obj := reflect.New(t).Interface()
		if r, ok := obj.(interface{ APILifecycleRemoved() (int, int) }); ok && before(r.APILifecycleRemoved()) {
			continue
		}
		if i, ok := obj.(interface{ APILifecycleIntroduced() (int, int) }); ok && strings.Contains(gvk.Version, "beta") {
			if maj, min := i.APILifecycleIntroduced(); maj > 1 || maj == 1 && min >= 24 {
				continue
			}
		}
		s[gv+"/"+gvk.Kind] = true
	}
	return s
})

// kubeMajorMinor is the major and minor of kubeVersion().
func kubeMajorMinor() (int, int) {
	v, err := semver.NewVersion(kubeVersion())
	if err != nil {
		return 0, 0 // a pin that does not parse fails versions' tests
	}
	return int(v.Major()), int(v.Minor())
}

// baseAPIVersions is what every chart of the environment sees: the
// built-in kinds, Flux's CRDs and those the environment's manifests apply.
func (b *builder) baseAPIVersions() apiVersionSet {
	s := apiVersionSet{}
	for _, set := range []apiVersionSet{builtinKinds(), fluxAPIVersions()} {
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
