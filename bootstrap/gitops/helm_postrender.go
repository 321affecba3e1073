package gitops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	//lint:ignore SA1019 helm-controller v1.6.4's post-renderer uses these builtins (internal/postrender/transformer.go)
	"sigs.k8s.io/kustomize/api/builtins"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// postRender post-renders the objects and hooks rendered from hr's chart
// as helm-controller v1.6.4 does: its post-renderer (internal/postrender
// BuildPostRenderers) runs the kustomize post-renderers in order, then
// spec.commonMetadata, then sets its origin labels, which win over common
// labels. Helm's install action runs it on the templates and hooks as
// spec.postRenderStrategy says (helm.sh/helm/v4 pkg/action/action.go
// renderResources, v4.2.4): together ("combined", the default), as two
// separate streams ("separate"), or on the templates only ("nohooks", the
// hooks left as rendered). The result is the objects, then the hooks. CRDs
// from the chart's crds/ directory are not post-rendered (see crdObjects).
func postRender(hr manifest.Object, objs, hooks []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	strategy, _, _ := unstructured.NestedString(hr.Object, "spec", "postRenderStrategy")
	switch strategy {
	case "", "combined":
		return runPostRenderers(hr, append(append([]*unstructured.Unstructured{}, objs...), hooks...))
	case "separate", "nohooks":
		out, err := runPostRenderers(hr, objs)
		if err != nil {
			return nil, err
		}
		if strategy == "separate" && len(hooks) > 0 {
			if hooks, err = runPostRenderers(hr, hooks); err != nil {
				return nil, err
			}
		}
		return append(out, hooks...), nil
	default:
		return nil, &strategyError{strategy}
	}
}

// installedObjects are the post-rendered objects a Helm install applies:
// Helm tells hooks from templates again after post-rendering, by their
// helm.sh/hook annotation (pkg/release/v1/util SortManifests); hooks whose
// events are all "test" (or Helm 2's "test-success") run only on request,
// and no hook runs when hooks are disabled.
func installedObjects(objs []*unstructured.Unstructured, disableHooks bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		events, isHook := o.GetAnnotations()["helm.sh/hook"]
		if !isHook {
			out = append(out, o)
			continue
		}
		if disableHooks {
			continue
		}
		testOnly := true
		for e := range strings.SplitSeq(events, ",") {
			e = strings.ToLower(strings.TrimSpace(e))
			testOnly = testOnly && (e == "test" || e == "test-success")
		}
		if !testOnly {
			out = append(out, o)
		}
	}
	return out
}

// strategyError is Helm's error for a post-render strategy it does not know.
type strategyError struct{ strategy string }

func (e *strategyError) Error() string {
	return fmt.Sprintf("unknown post-render strategy: '%s'", e.strategy)
}

// runPostRenderers runs hr's post-renderer on objs.
func runPostRenderers(hr manifest.Object, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if len(objs) == 0 {
		return objs, nil
	}
	if err := uniqueIDs(objs); err != nil {
		return nil, err
	}
	objs, err := kustomizePostRender(hr, objs)
	if err != nil {
		return nil, err
	}
	// spec.commonMetadata, then the origin labels, through kustomize's
	// label and annotation transformers on a resource map, as
	// helm-controller's CommonRenderer and OriginLabels do
	// (internal/postrender transformer.go): the round trip through the
	// resource map is part of what it applies (it drops an empty
	// metadata.annotations, for one).
	return postRenderMetadataOf(hr).apply(objs)
}

// postRenderMetadata is what helm-controller's CommonRenderer and
// OriginLabels set on every post-rendered object: spec.commonMetadata's
// labels and annotations, then the origin labels over them.
type postRenderMetadata struct {
	labels, annotations, origin map[string]string
}

func postRenderMetadataOf(hr manifest.Object) postRenderMetadata {
	labels, _, _ := unstructured.NestedStringMap(hr.Object, "spec", "commonMetadata", "labels")
	annotations, _, _ := unstructured.NestedStringMap(hr.Object, "spec", "commonMetadata", "annotations")
	return postRenderMetadata{
		labels:      labels,
		annotations: annotations,
		origin: map[string]string{
			"helm.toolkit.fluxcd.io/name":      hr.GetName(),
			"helm.toolkit.fluxcd.io/namespace": hr.GetNamespace(),
		},
	}
}

// apply sets m on objs as helm-controller and Helm would: directly when
// that gives the same objects (see applyDirect), otherwise through their
// own code.
func (m postRenderMetadata) apply(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if out, ok := m.applyDirect(objs); ok {
		return out, nil
	}
	return m.applyUpstream(objs)
}

// applyUpstream runs the metadata through kustomize's label and annotation
// transformers on a resource map, then Helm's filename annotation round
// trip, as helm-controller and Helm do: the reference applyDirect is
// tested against.
func (m postRenderMetadata) applyUpstream(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var transformers []resmap.Transformer
	if len(m.labels) > 0 {
		transformers = append(transformers, labelTransformer(m.labels))
	}
	if len(m.annotations) > 0 {
		transformers = append(transformers, &builtins.AnnotationsTransformerPlugin{
			Annotations: m.annotations,
			FieldSpecs:  []kustypes.FieldSpec{{Path: "metadata/annotations", CreateIfNotPresent: true}},
		})
	}
	transformers = append(transformers, labelTransformer(m.origin))
	out, err := transformStream(objs, transformers...)
	if err != nil {
		return nil, err
	}
	return deannotate(out)
}

// postRenderFilename is the annotation Helm v4 sets on each document it
// hands a post-renderer (pkg/action/action.go filenameAnnotation).
const postRenderFilename = "postrenderer.helm.sh/postrender-filename"

// deannotate does to post-rendered objects what Helm v4.2.4 does around
// a post-renderer (pkg/action/action.go annotateAndMerge, then
// splitAndDeannotate): it sets its filename annotation on every object and
// clears it again with kyaml's ClearAnnotation, which drops the
// metadata.annotations it leaves empty, even one the template wrote as {}.
// (The post-renderers here do not read that annotation, so setting it
// after them is the same.)
func deannotate(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	for _, o := range objs {
		n, err := kyaml.FromMap(o.Object)
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if err := n.PipeE(kyaml.SetAnnotation(postRenderFilename, "x")); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if err := n.PipeE(kyaml.ClearAnnotation(postRenderFilename)); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		// Written out as Helm writes it (kio.StringAll, which also drops a
		// metadata.annotations left empty), and read back through JSON so
		// that numbers stay int64 as elsewhere.
		y, err := kio.StringAll([]*kyaml.RNode{n})
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		raw, err := sigsyaml.YAMLToJSON([]byte(y))
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		o.Object = u.Object
	}
	return objs, nil
}

// labelTransformer sets labels on metadata.labels only, as helm-controller's.
func labelTransformer(labels map[string]string) resmap.Transformer {
	return &builtins.LabelTransformerPlugin{
		Labels:     labels,
		FieldSpecs: []kustypes.FieldSpec{{Path: "metadata/labels", CreateIfNotPresent: true}},
	}
}

// transformStream reads objs into a kustomize resource map, runs the
// transformers on it and returns the objects it then holds.
func transformStream(objs []*unstructured.Unstructured, transformers ...resmap.Transformer) ([]*unstructured.Unstructured, error) {
	var stream bytes.Buffer
	for _, o := range objs {
		y, err := sigsyaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		stream.WriteString("---\n")
		stream.Write(y)
	}
	// kustomize keeps global state: one run at a time (see secureBuild).
	buildMu.Lock()
	defer buildMu.Unlock()
	factory := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
	m, err := factory.NewResMapFromBytes(stream.Bytes())
	if err != nil {
		return nil, fmt.Errorf("post-render: %w", err)
	}
	for _, t := range transformers {
		if err := t.Transform(m); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
	}
	// What Helm receives is the resource map as YAML (AsYaml).
	y, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("post-render: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(y, []byte("\n---\n")) {
		raw, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if string(raw) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// uniqueIDs fails as helm-controller's post-renderer does when two
// objects of one stream share an identity: it reads the stream into a
// kustomize resource map (internal/postrender transformer.go), which
// refuses a second resource with the same group, version, kind, name and
// effective namespace (an empty namespace is "default"). In Helm 4's
// default "combined" strategy a hook repeating a template is such a pair;
// "separate" post-renders them apart. Objects named by generateName alone
// are left out.
func uniqueIDs(objs []*unstructured.Unstructured) error {
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		if o.GetName() == "" {
			continue
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		id := o.GetAPIVersion() + " " + o.GetKind() + " " + ns + "/" + o.GetName()
		if seen[id] {
			return &duplicateError{id: id}
		}
		seen[id] = true
	}
	return nil
}

// duplicateError is a post-render stream holding one identity twice.
type duplicateError struct{ id string }

func (e *duplicateError) Error() string {
	return fmt.Sprintf("post-render: may not add resource with an already registered id: %s (helm-controller's post-renderer refuses two objects with one identity; when a hook repeats a template, spec.postRenderStrategy: separate post-renders hooks apart)", e.id)
}

// setOriginLabels sets helm-controller's origin labels on o: the
// HelmRelease's name and namespace.
func setOriginLabels(hr manifest.Object, o *unstructured.Unstructured) {
	o.SetLabels(mergeStrings(o.GetLabels(), map[string]string{
		"helm.toolkit.fluxcd.io/name":      hr.GetName(),
		"helm.toolkit.fluxcd.io/namespace": hr.GetNamespace(),
	}))
}

// mergeStrings is a with b's entries set over it.
func mergeStrings(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// crdObjects are the objects of the chart's crds/ directory helm-controller
// applies (internal/action/crds.go applyCRDs, v1.6.4): the
// CustomResourceDefinitions only (it ignores any other kind there), each
// with the origin labels merged into its own and nothing else changed.
func crdObjects(hr manifest.Object, crds []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, c := range crds {
		gvk := c.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
			continue
		}
		setOriginLabels(hr, c)
		out = append(out, c)
	}
	return out
}

// kustomizePostRender applies the HelmRelease's kustomize post-renderers
// (patches and images), in order.
func kustomizePostRender(hr manifest.Object, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	prs, _, _ := unstructured.NestedSlice(hr.Object, "spec", "postRenderers")
	for i, pr := range prs {
		m, _ := pr.(map[string]any)
		k, ok := m["kustomize"].(map[string]any)
		if !ok {
			continue
		}
		var spec struct {
			Patches []kustypes.Patch `json:"patches"`
			Images  []kustypes.Image `json:"images"`
		}
		raw, _ := json.Marshal(k)
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("postRenderers[%d].kustomize: %w", i, err)
		}
		var input bytes.Buffer
		for _, o := range objs {
			y, err := sigsyaml.Marshal(o.Object)
			if err != nil {
				return nil, err
			}
			input.WriteString("---\n")
			input.Write(y)
		}
		fs := filesys.MakeFsInMemory()
		const dir = "/post-render"
		kus := kustypes.Kustomization{
			TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
			Resources: []string{"helm-output.yaml"},
			Patches:   spec.Patches,
			Images:    spec.Images,
		}
		kdata, err := sigsyaml.Marshal(kus)
		if err != nil {
			return nil, err
		}
		if err := fs.WriteFile(dir+"/helm-output.yaml", input.Bytes()); err != nil {
			return nil, err
		}
		if err := fs.WriteFile(dir+"/kustomization.yaml", kdata); err != nil {
			return nil, err
		}
		// Flux's Build serialises kustomize runs (kustomize has global state).
		resMap, err := fluxkustomize.Build(fs, dir)
		if err != nil {
			return nil, fmt.Errorf("postRenderers[%d].kustomize: %w", i, err)
		}
		objs = objs[:0:0]
		for _, r := range resMap.Resources() {
			raw, err := r.MarshalJSON()
			if err != nil {
				return nil, err
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw); err != nil {
				return nil, err
			}
			objs = append(objs, u)
		}
	}
	return objs, nil
}
