// Package conformance proves the offline engine against the real Flux
// controllers: each case under testdata/cases is built offline with
// gitops.BuildTarget and applied through source-, kustomize- and
// helm-controller on the test control plane, and what the controllers
// applied must be what the build produced (see Compare). The suite itself
// is conformance_test.go; `make test` runs it.
package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Key names an object the way Flux's inventories do: group, kind,
// namespace, name.
func Key(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return fmt.Sprintf("%s/%s/%s/%s", gvk.Group, gvk.Kind, u.GetNamespace(), u.GetName())
}

// Applied is one object as the cluster has it: the live object, and the
// fields the applying controller owns (its managedFields entry, FieldsV1
// JSON), which is what the controller sent.
type Applied struct {
	Live    *unstructured.Unstructured
	Managed []byte
	// Exact: Live is what was sent (a Helm release's manifest), so it
	// must equal the build's object both ways.
	Exact bool
}

// Compare reports every way want (the offline build) and got (what a
// controller applied, by Key) differ: objects only one side has; for each
// object in both, a field of want whose value the live object does not
// have (server defaults may add fields, never change the ones sent), and a
// field the controller sent that want lacks.
func Compare(want []*unstructured.Unstructured, got map[string]Applied) []string {
	var diffs []string
	seen := map[string]bool{}
	for _, w := range want {
		k := Key(w)
		seen[k] = true
		a, ok := got[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: built offline, not applied by the controllers", k))
			continue
		}
		w = normalise(w)
		// The API server ignores a status sent with the object (kustomize-
		// controller sends a CRD's, empty): it is not compared.
		w = w.DeepCopy()
		unstructured.RemoveNestedField(w.Object, "status")
		for _, d := range subset(w.Object, a.Live.Object, "", sides{"offline", "live"}) {
			diffs = append(diffs, k+": "+d)
		}
		if a.Exact {
			for _, d := range subset(a.Live.Object, w.Object, "", sides{"live", "offline"}) {
				diffs = append(diffs, k+": controller side: "+d)
			}
		}
		if a.Managed != nil {
			for _, p := range missingManaged(a.Managed, w.Object) {
				diffs = append(diffs, fmt.Sprintf("%s: %s: set by the controller, absent offline", k, p))
			}
		}
	}
	for k := range got {
		if !seen[k] {
			diffs = append(diffs, fmt.Sprintf("%s: applied by the controllers, not built offline", k))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// normalise turns what the build produces into what the API server stores
// when it differs by definition: a Secret's stringData is merged into data.
func normalise(u *unstructured.Unstructured) *unstructured.Unstructured {
	sd, ok, _ := unstructured.NestedStringMap(u.Object, "stringData")
	if !ok || u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u
	}
	c := u.DeepCopy()
	data, _, _ := unstructured.NestedMap(c.Object, "data")
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	_ = unstructured.SetNestedMap(c.Object, data, "data")
	unstructured.RemoveNestedField(c.Object, "stringData")
	return c
}

// sides names want's and got's side in subset's messages.
type sides struct{ want, got string }

// subset lists the places where want has a value got does not: maps key
// by key, lists element by element (same length), scalars equal. A null
// in want asks for nothing (server-side apply ignores it: the controllers
// send metadata.creationTimestamp: null).
func subset(want, got any, path string, n sides) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s %s, %s %s", or(path, "."), n.want, brief(want), n.got, brief(got))}
		}
		var out []string
		for k, wv := range w {
			if wv == nil {
				continue
			}
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s: %s %s, absent %s", path+"."+k, n.want, brief(wv), n.got))
				continue
			}
			out = append(out, subset(wv, gv, path+"."+k, n)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %s %s, %s %s", path, n.want, brief(want), n.got, brief(got))}
		}
		var out []string
		for i := range w {
			out = append(out, subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i), n)...)
		}
		return out
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: %s %s, %s %s", path, n.want, brief(want), n.got, brief(got))}
		}
		return nil
	}
}

// missingManaged lists the map fields of a FieldsV1 set (f:name entries,
// followed into lists through k:{...} keys) that obj lacks.
func missingManaged(fieldsV1 []byte, obj map[string]any) []string {
	var set map[string]any
	if json.Unmarshal(fieldsV1, &set) != nil {
		return []string{"managedFields: not FieldsV1 JSON"}
	}
	var out []string
	var walk func(set map[string]any, v any, path string)
	walk = func(set map[string]any, v any, path string) {
		for k, sub := range set {
			subset, _ := sub.(map[string]any)
			switch {
			case strings.HasPrefix(k, "f:"):
				name := k[2:]
				m, _ := v.(map[string]any)
				child, ok := m[name]
				if !ok {
					out = append(out, path+"."+name)
					continue
				}
				walk(subset, child, path+"."+name)
			case strings.HasPrefix(k, "k:"):
				var key map[string]any
				if json.Unmarshal([]byte(k[2:]), &key) != nil {
					continue
				}
				list, _ := v.([]any)
				item := findItem(list, key)
				if item == nil {
					out = append(out, fmt.Sprintf("%s[%s]", path, k[2:]))
					continue
				}
				walk(subset, item, fmt.Sprintf("%s[%s]", path, k[2:]))
			}
		}
	}
	walk(set, obj, "")
	sort.Strings(out)
	return out
}

// findItem finds the element of list whose fields equal key's.
func findItem(list []any, key map[string]any) map[string]any {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		match := true
		for k, v := range key {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}

func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 120 {
		return fmt.Sprintf("%T", v)
	}
	return string(b)
}

func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}
