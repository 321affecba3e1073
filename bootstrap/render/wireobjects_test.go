package render

import (
	"math"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestObjectsCrossWithTheirTypes: every type decoded JSON holds comes back
// as the same Go type and value, and a value of another type is refused.
func TestObjectsCrossWithTheirTypes(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "a", "labels": map[string]any{}},
			"spec": map[string]any{
				"int": int64(-7), "big": int64(math.MaxInt64), "float": 1e6, "half": 0.5,
				"yes": true, "no": false, "nothing": nil, "empty": "", "unicode": "é☃",
				"list": []any{int64(1), 1.0, "1", nil, []any{}, map[string]any{}},
			},
		}},
		{Object: map[string]any{"kind": "Second"}},
	}
	data, err := encodeObjects(nil, objs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeObjectsWire(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, objs) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, objs)
	}
	if empty, err := decodeObjectsWire(mustEncode(t, nil)); err != nil || len(empty) != 0 {
		t.Errorf("no objects: %v %v", empty, err)
	}
	if _, err := encodeObjects(nil, []*unstructured.Unstructured{{Object: map[string]any{"n": 3}}}); err == nil {
		t.Error("an int (not int64) was encoded")
	}
	for i := range data {
		if _, err := decodeObjectsWire(data[:i]); err == nil {
			t.Fatalf("a cut answer (%d of %d bytes) decoded", i, len(data))
		}
	}
}

func mustEncode(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	data, err := encodeObjects(nil, objs)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
