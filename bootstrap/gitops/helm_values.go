package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	fluxchartutil "github.com/fluxcd/pkg/chartutil"
	"github.com/go-logr/logr"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// valuesSchema compiles the chart's values schema once.
func (lc *loadedChart) valuesSchema() *jsonschema.Schema {
	lc.schemaOnce.Do(func() {
		// Only the chart's own files: never a URL or a file elsewhere.
		lc.schema, _ = render.CompileValuesSchema(lc.chart)
	})
	return lc.schema
}

// mergedValues composes hr's values as helm-controller v1.6.4 does
// (internal/controller/helmrelease_controller.go): with
// fluxcd/pkg/chartutil.ChartValuesFromReferences, which merges the
// valuesFrom references in order (a targetPath set as `helm --set` sets it,
// so "3" is the integer 3 and `a\.b` one key), then spec.values on top. The
// ConfigMaps and Secrets it reads are those the environment applies, served
// by an in-memory client as the API server would store them.
//
// A reference to a ConfigMap or Secret the environment does not declare is
// skipped: it is created in the cluster (by an operator, External Secrets
// or `up`), its values cannot be known offline, and checking that
// reference is validate's job.
func (b *builder) mergedValues(ctx context.Context, hr manifest.Object, index map[string]manifest.Object) (map[string]any, bool) {
	values, refs, ok := b.valuesSpec(hr)
	if !ok {
		return nil, false
	}
	ns := hr.GetNamespace()
	var objs []client.Object
	seen := map[string]bool{}
	for i := range refs {
		ref := &refs[i]
		field := fmt.Sprintf("spec.valuesFrom[%d]", i)
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			b.hrFinding(hr, field+".kind", fmt.Sprintf("kind %q: want ConfigMap or Secret", ref.Kind))
			ok = false
			continue
		}
		id := "/" + ref.Kind + "/" + ns + "/" + ref.Name // core group
		src, found := index[id]
		if !found {
			ref.Optional = true
			continue
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		obj, err := storedObject(src)
		if err != nil {
			b.hrFinding(hr, field, fmt.Sprintf("%s %s/%s: %v", ref.Kind, ns, ref.Name, err))
			ok = false
			continue
		}
		objs = append(objs, obj)
	}
	if !ok {
		return nil, false
	}
	var c client.Client
	if len(refs) > 0 {
		c = fake.NewClientBuilder().WithScheme(valuesScheme).WithObjects(objs...).Build()
	}
	merged, err := fluxchartutil.ChartValuesFromReferences(ctx, logr.Discard(), c, ns, values, refs...)
	if err != nil {
		b.valuesError(hr, refs, err)
		return nil, false
	}
	return merged, true
}

// valuesScheme knows the two kinds valuesFrom reads.
var valuesScheme = func() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	_ = corev1.AddToScheme(s)
	return s
}()

// valuesSpec decodes hr's spec.values and spec.valuesFrom as helm-controller
// reads them: spec.values through the HelmRelease API's GetValues (numbers
// are float64, as the controller's JSON decoding makes them).
func (b *builder) valuesSpec(hr manifest.Object) (map[string]any, []meta.ValuesReference, bool) {
	var spec struct {
		Values     *apiextensionsv1.JSON  `json:"values,omitempty"`
		ValuesFrom []meta.ValuesReference `json:"valuesFrom,omitempty"`
	}
	in := map[string]any{}
	for _, k := range []string{"values", "valuesFrom"} {
		if v, found, _ := unstructured.NestedFieldNoCopy(hr.Object, "spec", k); found {
			in[k] = v
		}
	}
	raw, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(raw, &spec)
	}
	if err != nil {
		b.hrFinding(hr, "spec.valuesFrom", fmt.Sprintf("spec.values or spec.valuesFrom cannot be read: %v", err))
		return nil, nil, false
	}
	rel := helmv2.HelmRelease{Spec: helmv2.HelmReleaseSpec{Values: spec.Values}}
	return rel.GetValues(), spec.ValuesFrom, true
}

// storedObject is the ConfigMap or Secret src as the API server stores it:
// a Secret's stringData folded into its data, stringData winning.
func storedObject(src manifest.Object) (client.Object, error) {
	raw, err := json.Marshal(src.Object)
	if err != nil {
		return nil, err
	}
	om := metav1.ObjectMeta{Name: src.GetName(), Namespace: src.GetNamespace()}
	if src.GetKind() == "ConfigMap" {
		var cm corev1.ConfigMap
		if err := json.Unmarshal(raw, &cm); err != nil {
			return nil, fmt.Errorf("not a valid ConfigMap: %w", err)
		}
		return &corev1.ConfigMap{ObjectMeta: om, Data: cm.Data}, nil
	}
	var sec corev1.Secret
	if err := json.Unmarshal(raw, &sec); err != nil {
		return nil, fmt.Errorf("not a valid Secret (data values must be base64): %w", err)
	}
	data := sec.Data
	if data == nil && len(sec.StringData) > 0 {
		data = map[string][]byte{}
	}
	for k, v := range sec.StringData {
		data[k] = []byte(v)
	}
	return &corev1.Secret{ObjectMeta: om, Data: data}, nil
}

// valuesError reports the error of composing hr's values at the valuesFrom
// reference it names.
func (b *builder) valuesError(hr manifest.Object, refs []meta.ValuesReference, err error) {
	var re *fluxchartutil.ErrValuesReference
	if !errors.As(err, &re) {
		b.hrFinding(hr, "spec.valuesFrom", err.Error())
		return
	}
	field := "spec.valuesFrom"
	for i, ref := range refs {
		if ref.Kind == re.Kind && ref.Name == re.Name.Name && ref.GetValuesKey() == re.Key {
			field = fmt.Sprintf("spec.valuesFrom[%d]", i)
			break
		}
	}
	msg := err.Error()
	if errors.Is(err, fluxchartutil.ErrKeyNotFound) {
		field += ".valuesKey"
		msg = fmt.Sprintf("%s %s has no key %q", re.Kind, re.Name, re.Key)
	}
	b.hrFinding(hr, field, msg)
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
