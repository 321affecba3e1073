package render

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Everything a render returns crosses from the render process intact: a
// Result field the wire format forgets is lost to every caller.
func TestWireKeepsEveryResultField(t *testing.T) {
	obj := func(name string) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{{Object: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": name}}}}
	}
	res := &Result{
		Manifest:     "---\nkind: ConfigMap\n",
		Notes:        "notes",
		Objects:      obj("o"),
		CRDs:         obj("c"),
		Hooks:        obj("h"),
		TestHooks:    obj("t"),
		HookManifest: "# Source: c/templates/h.yaml\n",
	}
	v := reflect.ValueOf(*res)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the test leaves Result.%s empty: set it", v.Type().Field(i).Name)
		}
	}
	w, err := resultToWire(res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := resultFromWire(w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, res) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, res)
	}
}
