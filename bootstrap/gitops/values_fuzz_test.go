package gitops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// valuesFuzzChart is a chart with a values schema (one of its rules in a
// file it ships, reached by $ref) and a subchart with its own schema,
// enabled by a condition and a tag the values can turn off. The top
// schema says nothing of the subchart's key.
var valuesFuzzChart = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: web
version: 0.1.0
dependencies:
  - name: sub
    version: 0.1.0
    condition: sub.enabled
    tags: [extras]
`,
	"values.yaml": "image: {repository: app, tag: \"1.0\"}\nreplicaCount: 1\nservice: {port: 80}\nsub: {enabled: true}\n",
	"values.schema.json": `{"type": "object", "properties": {
  "image": {"type": "object", "additionalProperties": false, "properties": {
    "repository": {"type": "string"}, "tag": {"type": "string", "pattern": "^[a-z0-9.]+$"}}},
  "replicaCount": {"type": "integer", "minimum": 0, "maximum": 10},
  "service": {"$ref": "schemas/service.json"},
  "mode": {"enum": ["a", "b"]},
  "hosts": {"type": "array", "maxItems": 5, "items": {"type": "string", "format": "hostname"}}}}`,
	"schemas/service.json":          `{"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}`,
	"templates/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
	"charts/sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
	"charts/sub/values.yaml":        "enabled: true\nreplicas: 1\n",
	"charts/sub/values.schema.json": `{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
}

// fuzzValuesBound is how long composing and checking one HelmRelease's
// values may take: the work must be bounded by its input, whatever it is.
const fuzzValuesBound = 10 * time.Second

// FuzzHelmValues: a HelmRelease's spec.values, the values.yaml of a
// ConfigMap its valuesFrom reads and that reference's targetPath are the
// repository's, so any text. Composing them as helm-controller does
// (mergedValues) and checking them against the chart's values schema
// (checkValues, then render.ValidateValues as the render runs it) never
// panics and is bounded; every problem is a finding on the HelmRelease, at
// a field under spec.values or spec.valuesFrom; a violation checkValues
// reports is an error of ValidateValues too; and the chart is never
// modified.
func FuzzHelmValues(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "web")
	for name, body := range valuesFuzzChart {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	ch, err := render.LoadChart(dir)
	if err != nil {
		f.Fatal(err)
	}
	lc := &loadedChart{chart: ch}
	if lc.valuesSchema() == nil {
		f.Fatal("the chart's values schema does not compile")
	}
	defaults := deepCopyMap(ch.Values)
	subDefaults := deepCopyMap(ch.Dependencies()[0].Values)
	f.Add("image: {tag: \"2.0\"}\nreplicaCount: 3\n", "service: {port: 8080}\n", "")
	f.Add("image: {tagg: x}\n", "a: 1\n", "replicaCount")

	f.Fuzz(func(t *testing.T, values, cmValues, targetPath string) {
		valuesJSON, err := sigsyaml.YAMLToJSON([]byte(values))
		if err != nil {
			return // not YAML: kustomize refuses the file before any of this
		}
		hr, err := fuzzObject("HelmRelease", map[string]any{
			"values":     json.RawMessage(valuesJSON),
			"valuesFrom": []map[string]any{{"kind": "ConfigMap", "name": "vals", "targetPath": targetPath}},
		})
		if err != nil {
			return // the build reports an object it cannot decode, before any of this
		}
		cm, err := fuzzObject("ConfigMap", map[string]any{"values.yaml": cmValues})
		if err != nil {
			t.Fatal(err)
		}
		index := map[string]manifest.Object{cm.ID(): cm}

		b := &builder{charts: map[string]*loadedChart{}}
		var (
			merged      map[string]any
			ok, checked bool
			verr        error
		)
		within(t, fuzzValuesBound, "composing and checking the values", func() {
			merged, ok = b.mergedValues(context.Background(), hr, index)
			checked = ok && b.checkValues(hr, lc, merged)
			if ok {
				verr = render.ValidateValues(ch, merged)
			}
		})

		if !checked && len(b.findings) == 0 {
			t.Errorf("values refused (composed: %v) without a finding", ok)
		}
		if checked && len(b.findings) > 0 {
			t.Errorf("values accepted with findings:\n%s", findingsText(b.findings))
		}
		for _, fd := range b.findings {
			if fd.File != hr.Origin.File || fd.Line != hr.Origin.Line || fd.Object != "HelmRelease/app/web" ||
				!strings.HasPrefix(fd.Field, "spec.values") {
				t.Errorf("finding not at a values field of the HelmRelease: %s", fd)
			}
		}
		if ok && !checked && verr == nil {
			t.Errorf("checkValues found\n%sbut ValidateValues accepts %v", findingsText(b.findings), merged)
		}
		if !reflect.DeepEqual(ch.Values, defaults) || !reflect.DeepEqual(ch.Dependencies()[0].Values, subDefaults) {
			t.Fatalf("the chart's default values were modified: %v, sub %v", ch.Values, ch.Dependencies()[0].Values)
		}
	})
}

// fuzzObject is the HelmRelease app/web with spec body, or the ConfigMap
// app/vals with data body, from the file gitops/apps/web.yaml, decoded
// through JSON as the build decodes what kustomize builds.
func fuzzObject(kind string, body map[string]any) (manifest.Object, error) {
	in := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "vals", "namespace": "app"}, "data": body}
	if kind == "HelmRelease" {
		in = map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": kind, "metadata": map[string]any{"name": "web", "namespace": "app"}, "spec": body}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return manifest.Object{}, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return manifest.Object{}, err
	}
	return manifest.Object{Unstructured: u, Origin: manifest.Origin{File: "gitops/apps/web.yaml", Line: 3}}, nil
}
