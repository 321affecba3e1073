package gitops

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Post-build substitution reads ConfigMaps and Secrets from the cluster
// (fluxcd/pkg/kustomize v1.35.7, kustomize_varsub.go, LoadVariables: each
// spec.postBuild.substituteFrom entry is read from the Kustomization's own
// namespace; a NotFound one is skipped when optional, any other failure
// fails the build; later entries override earlier ones). The cluster here
// is what the environment itself applies, the cluster-vars ConfigMap that
// bootstrap creates, and the objects of Options.Fixtures.

// maxWalks bounds how often the Kustomizations are walked again because a
// substitution read a ConfigMap or Secret that a later Kustomization
// applies (see walkSettled).
const maxWalks = 5

// isSubstitutionSource reports whether o is a ConfigMap or Secret.
func isSubstitutionSource(o manifest.Object) bool {
	gvk := o.GroupVersionKind()
	return gvk.Group == "" && (gvk.Kind == "ConfigMap" || gvk.Kind == "Secret")
}

// sourceData is the data of a ConfigMap, or of a Secret as the API server
// stores it: stringData merged into data, stringData winning.
func sourceData(o manifest.Object) (strs map[string]string, bins map[string][]byte, err error) {
	if o.GetKind() == "ConfigMap" {
		var cm corev1.ConfigMap
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cm); err != nil {
			return nil, nil, err
		}
		return cm.Data, nil, nil
	}
	var s corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
		return nil, nil, err
	}
	data := map[string][]byte{}
	maps.Copy(data, s.Data)
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return nil, data, nil
}

// clusterSources are the ConfigMaps and Secrets substitution can read, by
// "Kind/namespace/name".
type clusterSources map[string]sourceObject

type sourceObject struct {
	configMap map[string]string
	secret    map[string][]byte
}

func sourceKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// with returns a copy of s with every ConfigMap and Secret of objs added,
// replacing what s had under the same name; objects that do not decode are
// left out (the schema checks report them).
func (s clusterSources) with(objs []manifest.Object) clusterSources {
	out := maps.Clone(s)
	if out == nil {
		out = clusterSources{}
	}
	for _, o := range objs {
		if o.Unstructured == nil || !isSubstitutionSource(o) || o.GetNamespace() == "" {
			continue
		}
		strs, bins, err := sourceData(o)
		if err != nil {
			continue
		}
		out[sourceKey(o.GetKind(), o.GetNamespace(), o.GetName())] = sourceObject{configMap: strs, secret: bins}
	}
	return out
}

// client serves s to fluxcd/pkg/kustomize's SubstituteVariables.
func (s clusterSources) client() client.Client {
	var objs []client.Object
	for k, v := range s {
		kind, rest, _ := strings.Cut(k, "/")
		ns, name, _ := strings.Cut(rest, "/")
		meta := metav1.ObjectMeta{Namespace: ns, Name: name}
		if kind == "ConfigMap" {
			objs = append(objs, &corev1.ConfigMap{ObjectMeta: meta, Data: v.configMap})
		} else {
			objs = append(objs, &corev1.Secret{ObjectMeta: meta, Data: v.secret})
		}
	}
	return fake.NewClientBuilder().WithObjects(objs...).Build()
}

// sameAt reports whether s and t hold the same object, or both none, at
// each of keys.
func (s clusterSources) sameAt(t clusterSources, keys map[string]bool) bool {
	for k := range keys {
		a, okA := s[k]
		b, okB := t[k]
		if okA != okB || !maps.Equal(a.configMap, b.configMap) || !maps.EqualFunc(a.secret, b.secret, bytes.Equal) {
			return false
		}
	}
	return true
}

// baseSources are the ConfigMaps and Secrets in the cluster before the
// environment applies anything: the cluster-vars ConfigMap bootstrap creates
// from the environment's cluster-vars.env (and --var), and the fixtures.
func baseSources(env string, vars map[string]string, fixtures []manifest.Object) (clusterSources, error) {
	s := clusterSources{}
	if env != "" { // up creates the cluster-vars ConfigMap of an environment
		cm := RootObjects(env, "", vars).Vars
		s[sourceKey("ConfigMap", cm.Namespace, cm.Name)] = sourceObject{configMap: maps.Clone(cm.Data)}
	}
	for _, o := range fixtures {
		if isSubstitutionSource(o) && o.GetKind() == "ConfigMap" && o.GetNamespace() == FluxNamespace && o.GetName() == VarsConfigMap {
			return nil, fmt.Errorf("fixtures file %s: ConfigMap %s/%s is made from the environment's %s and --var: set its values there",
				o.Origin.File, FluxNamespace, VarsConfigMap, VarsFile)
		}
	}
	return s.with(fixtures), nil
}

// walkSettled walks the Kustomizations until every post-build substitution
// read the ConfigMaps and Secrets the environment ends up with, as
// kustomize-controller retries a Kustomization until what it substitutes
// from exists. Each walk starts from the findings made before it.
func (b *builder) walkSettled(ctx context.Context) error {
	before := len(b.findings)
	for n := 1; ; n++ {
		b.blocks, b.findings = nil, b.findings[:before]
		b.substReads, b.substNeeds, b.kube = map[string]bool{}, map[string][]substNeed{}, nil
		if err := b.walk(ctx); err != nil {
			return err
		}
		var applied []manifest.Object
		for _, blk := range b.blocks {
			applied = append(applied, blk.objects...)
		}
		next := b.base.with(applied)
		if n == maxWalks || next.sameAt(b.sources, b.substReads) {
			b.checkSubstitutionDeadlocks(applied)
			return nil
		}
		b.sources = next
	}
}

// substitutionClient returns the client post-build substitution reads from,
// made once per walk.
func (b *builder) substitutionClient() client.Client {
	if b.kube == nil {
		b.kube = b.sources.client()
	}
	return b.kube
}

// availableSubstituteFrom returns u (the Flux Kustomization ks) with the
// spec.postBuild.substituteFrom entries that name a ConfigMap or Secret
// the cluster would not have left out, after reporting each that is not
// optional: kustomize-controller would not build ks until it exists, and
// the objects are substituted with the variables that are available.
func (b *builder) availableSubstituteFrom(ks manifest.Object, u unstructured.Unstructured) unstructured.Unstructured {
	list, found, err := unstructured.NestedSlice(u.Object, "spec", "postBuild", "substituteFrom")
	if !found || err != nil {
		return u
	}
	kept := make([]any, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		var ref fluxkustomize.SubstituteReference
		if !ok || runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ref) != nil {
			return u // SubstituteVariables reports it
		}
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			kept = append(kept, item) // SubstituteVariables ignores it
			continue
		}
		k := sourceKey(ref.Kind, u.GetNamespace(), ref.Name)
		b.substReads[k] = true
		if !ref.Optional {
			ks := ks.GetNamespace() + "/" + ks.GetName()
			b.substNeeds[ks] = append(b.substNeeds[ks], substNeed{index: i, source: k, kind: ref.Kind, name: ref.Name})
		}
		if _, exists := b.sources[k]; exists || ref.Optional {
			kept = append(kept, item)
			continue
		}
		b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ks.Ref(),
			Field: fmt.Sprintf("spec.postBuild.substituteFrom[%d]", i),
			Message: fmt.Sprintf("%s %s does not exist: no Kustomization of this environment applies it and no fixture (--fixtures) gives it "+
				"(one that only the cluster has, or that an ExternalSecret or operator makes, goes there); "+
				"kustomize-controller would not apply %s until it exists (set optional: true if it may be absent); its objects are checked substituted without it",
				ref.Kind, types.NamespacedName{Namespace: u.GetNamespace(), Name: ref.Name}, ks.Ref())})
	}
	out := unstructured.Unstructured{Object: deepCopyMap(u.Object)}
	_ = unstructured.SetNestedSlice(out.Object, kept, "spec", "postBuild", "substituteFrom")
	return out
}

// substNeed is a required spec.postBuild.substituteFrom entry of a
// Kustomization: its index and the source it names.
type substNeed struct {
	index      int
	source     string // sourceKey
	kind, name string
}

// checkSubstitutionDeadlocks reports each required substituteFrom source
// that the environment applies only through the Kustomization that needs
// it: by itself, by a Kustomization it creates, or by one that in turn
// waits for such a source. kustomize-controller builds (and substitutes)
// before it applies, so such a Kustomization would wait forever, though a
// walk that takes the environment's final objects as the cluster's would
// substitute it.
func (b *builder) checkSubstitutionDeadlocks(applied []manifest.Object) {
	if len(b.substNeeds) == 0 {
		return
	}
	applier := map[string]string{}       // source -> Kustomization applying it
	parent := map[string]string{}        // Kustomization -> Kustomization applying it
	file := map[string]manifest.Object{} // Kustomization -> its object
	for _, o := range applied {
		key := o.GetNamespace() + "/" + o.GetName()
		switch {
		case isSubstitutionSource(o):
			applier[sourceKey(o.GetKind(), o.GetNamespace(), o.GetName())] = o.Origin.Kustomization
		case isFluxKustomization(o):
			parent[key] = o.Origin.Kustomization
			file[key] = o
		}
	}
	// waitsFor lists what Kustomization k cannot be applied before.
	waitsFor := func(k string) []string {
		var out []string
		if p, ok := parent[k]; ok && p != "" {
			out = append(out, p)
		}
		for _, n := range b.substNeeds[k] {
			if _, inBase := b.base[n.source]; inBase {
				continue
			}
			if a, ok := applier[n.source]; ok && a != "" {
				out = append(out, a)
			}
		}
		return out
	}
	reaches := func(from, to string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if k == to {
				return true
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			stack = append(stack, waitsFor(k)...)
		}
		return false
	}
	keys := make([]string, 0, len(b.substNeeds))
	for k := range b.substNeeds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ks, ok := file[k]
		if !ok {
			continue
		}
		for _, n := range b.substNeeds[k] {
			a, ok := applier[n.source]
			if _, inBase := b.base[n.source]; inBase || !ok || !reaches(a, k) {
				continue
			}
			b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ks.Ref(),
				Field: fmt.Sprintf("spec.postBuild.substituteFrom[%d]", n.index),
				Message: fmt.Sprintf("%s %s is applied by Kustomization %s, which cannot be applied before %s is: kustomize-controller would wait for it forever (set optional: true, or create it outside this Kustomization's chain)",
					n.kind, strings.TrimPrefix(n.source, n.kind+"/"), nameOrRoot(a), ks.Ref())})
		}
	}
}
