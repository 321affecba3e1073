package validate

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// TestRunMemoStrictDecodeByContent: environments of one run that deploy the
// same object share its strict decoding; an object with the same name but
// other content is decoded for itself.
func TestRunMemoStrictDecodeByContent(t *testing.T) {
	cm := func(extra map[string]any) manifest.Object {
		o := map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "cfg", "namespace": "apps"},
			"data":     map[string]any{"a": "b"},
		}
		for k, v := range extra {
			o[k] = v
		}
		return manifest.Object{Unstructured: &unstructured.Unstructured{Object: o}}
	}
	memo := newRunMemo()
	decodes := 0
	decode := func(o manifest.Object) []fieldMessage {
		return memo.strictDecode("builtin", o, func() []fieldMessage {
			decodes++
			return strictDecodeFields(builtinScheme, o)
		})
	}
	if fs := decode(cm(nil)); len(fs) != 0 {
		t.Fatalf("valid ConfigMap: %v", fs)
	}
	decode(cm(nil))
	if decodes != 1 {
		t.Fatalf("an equal object was decoded %d times, want once", decodes)
	}
	fs := decode(cm(map[string]any{"dataa": map[string]any{}}))
	if decodes != 2 || len(fs) != 1 || fs[0].field != "dataa" {
		t.Fatalf("changed object: %d decodes, findings %v; want a second decode reporting dataa", decodes, fs)
	}
}
