package gitops

import (
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyDirect sets m on a copy of each object without the YAML round
// trips of applyUpstream, and reports whether it could. It can when every
// object is one applyUpstream would keep as it is apart from the metadata
// it sets, which TestDirectMetadataIsUpstreams checks against
// applyUpstream on every object the pinned charts render and on fuzzed
// objects:
//
//   - kustomize's resource map keeps the object as one resource: its kind
//     is set and does not end in "List" (a FooList with items is expanded,
//     sigs.k8s.io/kustomize/api resource.Factory inlineAnyEmbeddedLists),
//     its name is set, and no list in it holds a null item (dropBadNodes
//     refuses those);
//   - its labels and annotations are string maps, null or absent, and Helm's
//     filename annotation is not among them (Helm would remove it);
//   - the YAML round trips change no value: the object holds only strings,
//     integers, booleans, nulls, maps and lists (a float such as 1.0 comes
//     back as the integer 1);
//   - the metadata itself survives the upstream path: kustomize writes the
//     keys it sets as plain YAML, so a label key such as "0" becomes a
//     number and the post-render fails. Rather than model YAML's rules,
//     m is run through applyUpstream once on a probe object, and must set
//     there exactly what applyDirect sets.
//
// Otherwise the caller runs applyUpstream, which is what helm-controller
// and Helm do. The objects given are never changed: a chart's render is
// shared by every HelmRelease that renders it.
func (m postRenderMetadata) applyDirect(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, bool) {
	if !m.survivesUpstream() {
		return nil, false
	}
	return m.setDirect(objs)
}

// survivesUpstream reports whether applyUpstream and setDirect agree on a
// probe object carrying m.
func (m postRenderMetadata) survivesUpstream() bool {
	probe := func() []*unstructured.Unstructured {
		return []*unstructured.Unstructured{{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "probe"},
		}}}
	}
	up, err := m.applyUpstream(probe())
	if err != nil || len(up) != 1 {
		return false
	}
	direct, ok := m.setDirect(probe())
	return ok && reflect.DeepEqual(direct[0].Object, up[0].Object)
}

// setDirect is applyDirect without the probe.
func (m postRenderMetadata) setDirect(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, bool) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		kind, _ := o.Object["kind"].(string)
		if kind == "" || strings.HasSuffix(kind, "List") {
			return nil, false
		}
		copied, ok := plainCopy(o.Object)
		if !ok {
			return nil, false
		}
		obj := copied.(map[string]any)
		md, ok := obj["metadata"].(map[string]any)
		if !ok {
			return nil, false
		}
		if name, _ := md["name"].(string); name == "" {
			return nil, false
		}
		if ns, has := md["namespace"]; has {
			if _, ok := ns.(string); !ok {
				return nil, false
			}
		}
		labels, ok := stringMapField(md, "labels")
		if !ok {
			return nil, false
		}
		annotations, ok := stringMapField(md, "annotations")
		if !ok {
			return nil, false
		}
		if _, has := annotations[postRenderFilename]; has {
			return nil, false
		}
		for _, set := range []map[string]string{m.labels, m.origin} {
			for k, v := range set {
				labels[k] = v
			}
		}
		md["labels"] = labels
		for k, v := range m.annotations {
			annotations[k] = v
		}
		// Helm's ClearAnnotation drops the annotations it leaves empty.
		if len(annotations) == 0 {
			delete(md, "annotations")
		} else {
			md["annotations"] = annotations
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, true
}

// stringMapField is md[field] as a map of strings, a new empty one when it
// is absent or null; false when it is anything but a map of strings.
func stringMapField(md map[string]any, field string) (map[string]any, bool) {
	v := md[field]
	if v == nil {
		return map[string]any{}, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	for _, x := range m {
		if _, ok := x.(string); !ok {
			return nil, false
		}
	}
	return m, true
}

// plainCopy deep-copies v when it holds only the values a YAML round trip
// keeps as they are (see applyDirect); false otherwise.
func plainCopy(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, int64, bool:
		return x, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := plainCopy(e)
			if !ok {
				return nil, false
			}
			out[k] = c
		}
		return out, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if e == nil {
				return nil, false
			}
			c, ok := plainCopy(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	default:
		return nil, false
	}
}
