package conformance

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// The comparison the suite rests on must see each kind of difference, and
// accept what the API server adds by definition.
func TestCompare(t *testing.T) {
	want := obj(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: n, labels: {x: "1"}}
data: {k: v}
`)
	live := obj(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: n, labels: {x: "1"}, uid: u1, resourceVersion: "7"}
data: {k: v}
`)
	managed := []byte(`{"f:data":{"f:k":{}},"f:metadata":{"f:labels":{"f:x":{}}}}`)
	if d := Compare([]*unstructured.Unstructured{want}, map[string]Applied{Key(live): {Live: live, Managed: managed}}); len(d) != 0 {
		t.Errorf("equal objects differ: %v", d)
	}

	for _, tc := range []struct {
		name, live, managed, want string
	}{
		{"changed value", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n, labels: {x: \"1\"}}\ndata: {k: w}\n", "", `.data.k: offline "v", live "w"`},
		{"missing field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {k: v}\n", "", `.metadata.labels: offline {"x":"1"}, absent live`},
		{"field only the controller sent", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n, labels: {x: \"1\", y: \"2\"}}\ndata: {k: v}\n", `{"f:metadata":{"f:labels":{"f:y":{}}}}`, ".metadata.labels.y: set by the controller, absent offline"},
		{"other object", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: n}\n", "", "built offline, not applied"},
	} {
		l := obj(t, tc.live)
		got := map[string]Applied{Key(l): {Live: l, Managed: []byte(tc.managed)}}
		if tc.managed == "" {
			got[Key(l)] = Applied{Live: l}
		}
		d := Compare([]*unstructured.Unstructured{want}, got)
		if !strings.Contains(strings.Join(d, "\n"), tc.want) {
			t.Errorf("%s: diffs %v, want one saying %q", tc.name, d, tc.want)
		}
	}

	// A release's object is compared both ways: a field only the release
	// has is named from the live side.
	rel := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n, labels: {x: \"1\"}}\ndata: {k: v, extra: e}\n")
	d := Compare([]*unstructured.Unstructured{want}, map[string]Applied{Key(rel): {Live: rel, Exact: true}})
	if len(d) != 1 || !strings.Contains(d[0], `controller side: .data.extra: live "e", absent offline`) {
		t.Errorf("exact comparison: %v", d)
	}

	// Secret stringData is stored as data.
	s := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\nstringData: {p: hi}\n")
	ls := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\ndata: {p: aGk=}\ntype: Opaque\n")
	if d := Compare([]*unstructured.Unstructured{s}, map[string]Applied{Key(ls): {Live: ls}}); len(d) != 0 {
		t.Errorf("stringData: %v", d)
	}
	// Lists keyed in managedFields are followed by key.
	dep := obj(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {template: {spec: {containers: [{name: app, image: x}]}}}\n")
	m := []byte(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{},"f:args":{}}}}}}}`)
	d = Compare([]*unstructured.Unstructured{dep}, map[string]Applied{Key(dep): {Live: dep, Managed: m}})
	if len(d) != 1 || !strings.Contains(d[0], `containers[{"name":"app"}].args`) {
		t.Errorf("keyed list: %v", d)
	}
}

// A release record keeps every hook rendered; only the hooks that ran are
// what helm-controller applied.
func TestAppliedHooks(t *testing.T) {
	var r release
	raw := `{"manifest": "m", "hooks": [
		{"manifest": "ran", "events": ["pre-install"], "last_run": {"phase": "Succeeded"}},
		{"manifest": "disabled", "events": ["pre-install"], "last_run": {"phase": ""}},
		{"manifest": "test", "events": ["test"], "last_run": {"phase": "Succeeded"}}]}`
	if err := yaml.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.appliedHooks(), ","); got != "ran" {
		t.Errorf("applied hooks %q, want only the one that ran and is not a test", got)
	}
}
