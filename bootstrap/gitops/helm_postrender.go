package gitops

import (
	"bytes"
	"encoding/json"
	"fmt"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// postRender applies the HelmRelease's kustomize post-renderers (patches and
// images) to the rendered objects, as helm-controller does before it adds
// its origin labels. CRDs from the chart's crds/ directory are not
// post-rendered, as in Helm.
func postRender(hr manifest.Object, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
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
