package gitops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// valuesSchema compiles the chart's values schema once.
func (lc *loadedChart) valuesSchema() *jsonschema.Schema {
	lc.schemaOnce.Do(func() {
		if len(lc.chart.Schema) == 0 {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(lc.chart.Schema))
		if err != nil {
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("values.schema.json", doc); err != nil {
			return
		}
		if sch, err := c.Compile("values.schema.json"); err == nil {
			lc.schema = sch
		}
	})
	return lc.schema
}

// mergedValues merges hr's valuesFrom (in order) and then spec.values, as
// helm-controller does. A valuesFrom ConfigMap or Secret the environment
// does not declare is skipped: it is created in the cluster, and checking
// that reference is validate's job.
func (b *builder) mergedValues(hr manifest.Object, index map[string]manifest.Object) (map[string]any, bool) {
	values := map[string]any{}
	from, _, _ := unstructured.NestedSlice(hr.Object, "spec", "valuesFrom")
	ok := true
	for i, f := range from {
		m, _ := f.(map[string]any)
		k, _ := m["kind"].(string)
		name, _ := m["name"].(string)
		key, _ := m["valuesKey"].(string)
		target, _ := m["targetPath"].(string)
		optional, _ := m["optional"].(bool)
		if key == "" {
			key = "values.yaml"
		}
		field := fmt.Sprintf("spec.valuesFrom[%d]", i)
		if k != "ConfigMap" && k != "Secret" {
			b.hrFinding(hr, field+".kind", fmt.Sprintf("kind %q: want ConfigMap or Secret", k))
			ok = false
			continue
		}
		src, found := index["/"+k+"/"+hr.GetNamespace()+"/"+name] // core group
		if !found {
			// Created in the cluster (by an operator, External Secrets or
			// `up`): its values cannot be known offline.
			continue
		}
		raw, found := dataValue(src, key)
		if !found {
			if !optional {
				b.hrFinding(hr, field+".valuesKey", fmt.Sprintf("%s %s/%s has no key %q", k, hr.GetNamespace(), name, key))
				ok = false
			}
			continue
		}
		if target != "" {
			setPath(values, target, raw)
			continue
		}
		var v map[string]any
		if err := sigsyaml.Unmarshal([]byte(raw), &v); err != nil {
			b.hrFinding(hr, field, fmt.Sprintf("%s %s/%s key %q is not a YAML map: %v", k, hr.GetNamespace(), name, key, err))
			ok = false
			continue
		}
		values = mergeMaps(values, v)
	}
	if spec, found, _ := unstructured.NestedMap(hr.Object, "spec", "values"); found {
		values = mergeMaps(values, spec)
	}
	return values, ok
}

// dataValue reads key from a ConfigMap's data or a Secret's data (base64)
// or stringData.
func dataValue(o manifest.Object, key string) (string, bool) {
	if v, ok, _ := unstructured.NestedString(o.Object, "data", key); ok {
		if o.GetKind() == "Secret" {
			d, err := base64.StdEncoding.DecodeString(v)
			return string(d), err == nil
		}
		return v, true
	}
	if v, ok, _ := unstructured.NestedString(o.Object, "stringData", key); ok {
		return v, true
	}
	return "", false
}

// setPath sets a dotted path (a.b.c) in values to v.
func setPath(values map[string]any, p string, v any) {
	parts := strings.Split(p, ".")
	m := values
	for _, k := range parts[:len(parts)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// mergeMaps merges b over a, recursively for maps (helm-controller's
// MergeMaps).
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func deepCopyMap(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

var printer = message.NewPrinter(language.English)

// checkValues validates the values merged over the chart's defaults against
// the chart's values.schema.json and reports each violation with its field
// (spec.values.image.tagg). It reports true when the values are valid or the
// chart has no schema this check can compile (Helm's own check then runs in
// render).
func (b *builder) checkValues(hr manifest.Object, lc *loadedChart, values map[string]any) bool {
	ch := lc.chart
	if len(ch.Schema) == 0 {
		return true
	}
	merged, err := chartutil.CoalesceValues(ch, deepCopyMap(values))
	if err != nil {
		return true
	}
	sch := lc.valuesSchema()
	if sch == nil {
		return true
	}
	raw, err := json.Marshal(merged.AsMap())
	if err != nil {
		return true
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return true
	}
	verr := sch.Validate(inst)
	if verr == nil {
		return true
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		b.hrFinding(hr, "spec.values", verr.Error())
		return false
	}
	type leaf struct{ field, msg string }
	var leaves []leaf
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc := e.InstanceLocation
		msg := e.ErrorKind.LocalizedString(printer)
		if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, p := range ap.Properties {
				leaves = append(leaves, leaf{valuesField(append(append([]string{}, loc...), p)),
					fmt.Sprintf("unknown key %q: the chart %s's values.schema.json does not allow it", p, ch.Name())})
			}
			return
		}
		leaves = append(leaves, leaf{valuesField(loc), msg})
	}
	walk(ve)
	sort.SliceStable(leaves, func(i, j int) bool { return leaves[i].field < leaves[j].field })
	for _, l := range leaves {
		b.hrFinding(hr, l.field, l.msg)
	}
	return false
}

var arrayIndex = regexp.MustCompile(`^[0-9]+$`)

// valuesField formats a JSON instance location under spec.values:
// ["image", "tagg"] is spec.values.image.tagg, ["hosts", "0"] is
// spec.values.hosts[0].
func valuesField(loc []string) string {
	var sb strings.Builder
	sb.WriteString("spec.values")
	for _, p := range loc {
		if arrayIndex.MatchString(p) {
			sb.WriteString("[" + p + "]")
			continue
		}
		sb.WriteString("." + p)
	}
	return sb.String()
}
