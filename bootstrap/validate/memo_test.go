package validate

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// TestSchemasCacheByContent: a CRD equal to one compiled before is not
// compiled again, whatever object holds it; a CRD whose spec changed is.
func TestSchemasCacheByContent(t *testing.T) {
	s := testChecker(t).schemas
	crd := func(maxLen int64) *apiextensionsv1.CustomResourceDefinition {
		return &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "gadgets.cache.example.com"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "cache.example.com",
				Scope: apiextensionsv1.NamespaceScoped,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Gadget", Plural: "gadgets"},
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
						Type:       "object",
						Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "string", MaxLength: &maxLen}},
					}},
				}},
			},
		}
	}
	a := s.compile(crd(3))
	b := s.compile(crd(3))
	if a != b {
		t.Fatal("an equal CRD was compiled again")
	}
	changed := crd(3)
	first := s.compile(changed)
	*changed.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].MaxLength = 5
	again := s.compile(changed)
	if again == first || again == a {
		t.Fatal("a CRD changed after compiling got the old compiled schema")
	}
	if got := *again.versions["v1"].structural.Properties["spec"].ValueValidation.MaxLength; got != 5 {
		t.Fatalf("compiled maxLength %d, want 5", got)
	}
}
