package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// DefaultKubeVersion is the Kubernetes version charts are rendered against
// when Options.KubeVersion is empty. It matches the k3s node image the tool
// runs.
const DefaultKubeVersion = "v1.36.0"

// DefaultNamespace is the release namespace used when Options.Namespace is
// empty.
const DefaultNamespace = "default"

// ErrInvalidValues is wrapped by Render's error when the values do not match
// the chart's values.schema.json.
var ErrInvalidValues = errors.New("values do not match the chart's schema")

// Options controls a client-side render.
type Options struct {
	// ReleaseName is the Helm release name; it defaults to the chart's name.
	ReleaseName string
	// Namespace is the release namespace; it defaults to DefaultNamespace.
	Namespace string
	// Values are the user-supplied values, merged over the chart's defaults.
	Values map[string]any
	// IncludeCRDs adds the chart's crds/ directories (and its subcharts') to
	// Result.CRDs and to the head of Result.Manifest, as helm-controller's
	// default CRD policy would install them.
	IncludeCRDs bool
	// KubeVersion is the Kubernetes version seen by templates
	// (.Capabilities.KubeVersion); it defaults to DefaultKubeVersion.
	KubeVersion string
	// APIVersions are extra API versions seen by templates
	// (.Capabilities.APIVersions), such as "monitoring.coreos.com/v1".
	APIVersions []string
	// ExactAPIVersions makes APIVersions the whole set the templates see,
	// as a cluster's discovery gives it to helm-controller, instead of an
	// addition to Helm's client-only defaults (every version client-go
	// knows, batch/v1beta1 and other long-removed ones included).
	ExactAPIVersions bool
	// Limits bound the render in time, output and memory.
	Limits Limits
	// Cache, when set, keeps successful renders between runs, by a digest
	// of everything they depend on (see cacheKey): a render found there is
	// not rendered again. Failed renders are not kept: whether a render
	// fails may depend on the machine (its limits of time and memory, a
	// render process that could not start), and telling those failures
	// apart from the chart's own is not worth a wrong answer.
	Cache ResultCache
}

// Result is a rendered release.
type Result struct {
	// Manifest is the rendered multi-document YAML, in Helm's install order,
	// preceded by the CRDs when Options.IncludeCRDs is set.
	Manifest string
	// Objects are the objects rendered from the chart's templates, in
	// install order, excluding hooks.
	Objects []*unstructured.Unstructured
	// CRDs are the objects from the crds/ directories, when
	// Options.IncludeCRDs is set.
	CRDs []*unstructured.Unstructured
	// Hooks are the objects of the chart's hooks, except those that are
	// test hooks only, which helm-controller only runs on request.
	Hooks []*unstructured.Unstructured
	// TestHooks are the objects of the hooks that are test hooks only:
	// helm-controller post-renders them with the others but applies them
	// only on request.
	TestHooks []*unstructured.Unstructured
	// HookManifest is Hooks as multi-document YAML, each document preceded
	// by its "# Source:" template path, as `helm template` prints hooks.
	HookManifest string
	// Notes is the rendered NOTES.txt of the chart.
	Notes string
}

// LoadChart loads a chart from a directory or a .tgz archive. A directory
// is checked first (see CheckChartDir): nothing outside it is read.
func LoadChart(path string) (*chart.Chart, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if err := CheckChartDir(path); err != nil {
			return nil, fmt.Errorf("load chart %q: %w", path, err)
		}
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load chart %q: %w", path, err)
	}
	return ch, nil
}

// Render renders the chart client-side as helm-controller would install it:
// the values are merged over the chart's defaults and validated against the
// chart's schema (and its subcharts'), then the templates are executed with
// a client-only dry run. It never contacts a cluster or the network.
func Render(ctx context.Context, ch *chart.Chart, opts Options) (*Result, error) {
	if ch == nil || ch.Metadata == nil {
		return nil, errors.New("render chart: no chart given")
	}
	name := ch.Name()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render chart %q: %w", name, err)
	}

	opts = withRenderDefaults(ch, opts)
	if _, err := common.ParseKubeVersion(opts.KubeVersion); err != nil {
		return nil, fmt.Errorf("render chart %q: kube version %q: %w", name, opts.KubeVersion, err)
	}
	values := opts.Values
	if values == nil {
		values = map[string]any{}
	}

	// A render in the cache had these very inputs, values included, so
	// they passed the schema check then.
	var key [32]byte
	cache := opts.Cache
	if cache != nil {
		var err error
		if key, err = cacheKey(ch, opts); err != nil {
			cache = nil // renderIsolated reports what cannot be encoded
		} else if data, ok := cache.Get(key); ok {
			if res, err := decodeResult(data); err == nil {
				return res, nil
			}
		}
	}

	if err := ValidateValues(ch, values); err != nil {
		return nil, err
	}

	res, err := renderIsolated(ctx, ch, opts)
	if err != nil {
		return nil, fmt.Errorf("render chart %q: %w", name, err)
	}
	if cache != nil {
		if data, err := encodeResult(res); err == nil {
			_ = cache.Put(key, data) // not cached (too large, disk full): rendered next time
		}
	}
	return res, nil
}

// withRenderDefaults is opts with the defaults of its release name,
// namespace and Kubernetes version set.
func withRenderDefaults(ch *chart.Chart, opts Options) Options {
	if opts.ReleaseName == "" {
		opts.ReleaseName = ch.Name()
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.KubeVersion == "" {
		opts.KubeVersion = DefaultKubeVersion
	}
	return opts
}

// renderTemplates is Render after the values are validated: it runs in the
// render process (see child.go). A render whose manifests exceed
// maxManifestBytes fails.
func renderTemplates(ctx context.Context, ch *chart.Chart, opts Options, maxManifestBytes int64) (*Result, error) {
	kubeVersion, err := common.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", opts.KubeVersion, err)
	}
	values := opts.Values
	if values == nil {
		values = map[string]any{}
	}

	// Install drops disabled subcharts from the chart it is given: render a
	// copy, whose remaining subcharts also decide which CRDs are included.
	rel, ok := renderDirect(cloneChart(ch), values, opts, kubeVersion)
	if !ok {
		if rel, err = renderInstall(ctx, cloneChart(ch), values, opts, kubeVersion); err != nil {
			return nil, err
		}
	}
	rendered := rel.chart
	size := int64(len(rel.manifest) + len(rel.notes))
	for _, h := range rel.hooks {
		size += int64(len(h.Manifest))
	}
	if size > maxManifestBytes {
		return nil, sizeError(Limits{MaxManifestBytes: maxManifestBytes}, size)
	}

	res := &Result{Manifest: rel.manifest, Notes: rel.notes, Objects: rel.objects}
	var hookManifest strings.Builder
	for _, h := range rel.hooks {
		objs, err := decodeManifest(h.Manifest)
		if err != nil {
			return nil, fmt.Errorf("hook %s: %w", h.Path, err)
		}
		if isTestHook(h) {
			res.TestHooks = append(res.TestHooks, objs...)
			continue
		}
		res.Hooks = append(res.Hooks, objs...)
		fmt.Fprintf(&hookManifest, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	res.HookManifest = hookManifest.String()

	if opts.IncludeCRDs {
		var crdManifest strings.Builder
		for _, crd := range rendered.CRDObjects() {
			objs, err := decodeManifest(string(crd.File.Data))
			if err != nil {
				return nil, fmt.Errorf("crd file %s: %w", crd.Filename, err)
			}
			res.CRDs = append(res.CRDs, objs...)
			fmt.Fprintf(&crdManifest, "---\n# Source: %s\n%s\n", crd.Filename, bytes.TrimSpace(crd.File.Data))
		}
		res.Manifest = crdManifest.String() + res.Manifest
	}
	return res, nil
}

// ValidateValues validates values as Helm does before rendering: subcharts
// disabled by the values' conditions and tags are dropped, the values are
// merged over the chart's defaults, and the result is checked against the
// chart's values.schema.json and its enabled subcharts' schemas. A schema
// violation is reported wrapping ErrInvalidValues, a schema referring to a
// document the chart does not ship wrapping ErrSchemaRef (see
// CompileValuesSchema). The chart is not modified.
func ValidateValues(ch *chart.Chart, values map[string]any) error {
	if ch == nil || ch.Metadata == nil {
		return errors.New("validate values: no chart given")
	}
	name := ch.Name()
	// Dependency processing rewrites the chart it is given: work on a copy.
	ch = cloneChart(ch)
	if err := chartv2util.ProcessDependencies(ch, values); err != nil {
		return fmt.Errorf("chart %q: process dependencies: %w", name, err)
	}
	merged, err := chartutil.CoalesceValues(ch, values)
	if err != nil {
		return fmt.Errorf("chart %q: merge values: %w", name, err)
	}
	// Helm's own check (chartutil.ValidateAgainstSchema) would fetch the
	// URLs a schema refers to; this one reads only the chart's files.
	if err := validateAgainstSchema(ch, merged.AsMap()); err != nil {
		if errors.Is(err, ErrSchemaRef) {
			return err
		}
		// Helm's message names each failing chart, then one line per
		// violation with its path, such as "- at '/image': ...".
		return fmt.Errorf("chart %q: %w:\n%s", name, ErrInvalidValues, strings.TrimSpace(err.Error()))
	}
	return nil
}

// cloneChart copies what Helm's dependency processing modifies (metadata,
// dependency entries, default values and the dependency tree) so that a
// loaded chart can be rendered any number of times with different values.
// Templates, files and schemas are shared: nothing writes to them.
func cloneChart(ch *chart.Chart) *chart.Chart {
	out := *ch
	if ch.Metadata != nil {
		md := *ch.Metadata
		md.Dependencies = make([]*chart.Dependency, len(ch.Metadata.Dependencies))
		for i, d := range ch.Metadata.Dependencies {
			if d == nil {
				continue
			}
			dc := *d
			dc.Tags = slices.Clone(d.Tags)
			dc.ImportValues, _ = deepCopy(d.ImportValues).([]any)
			md.Dependencies[i] = &dc
		}
		if ch.Metadata.Dependencies == nil {
			md.Dependencies = nil
		}
		out.Metadata = &md
	}
	out.Values, _ = deepCopy(ch.Values).(map[string]any)
	deps := ch.Dependencies()
	clones := make([]*chart.Chart, len(deps))
	for i, d := range deps {
		clones[i] = cloneChart(d)
	}
	out.SetDependencies(clones...)
	return &out
}

// deepCopy copies the maps and slices of a decoded YAML or JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case common.Values:
		return deepCopy(map[string]any(v))
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// isTestHook reports whether h runs only on `helm test`: a hook that also
// has an install event runs at install (Helm's execHook selects hooks by
// event), so helm-controller applies it.
func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e != release.HookTest {
			return false
		}
	}
	return len(h.Events) > 0
}

// decodeObjects parses a multi-document YAML (or JSON) stream, skipping empty
// documents and expanding lists. Numbers decode as int64 or float64, as the
// Kubernetes clients decode them.
func decodeObjects(manifest string) ([]*unstructured.Unstructured, error) {
	objs, _, err := decodeDocuments(manifest)
	return objs, err
}

// decodeDocuments is decodeObjects, also counting the lists expanded.
func decodeDocuments(manifest string) (objs []*unstructured.Unstructured, lists int, err error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, lists, nil
			}
			return nil, 0, fmt.Errorf("decode manifest document %d: %w", n, err)
		}
		if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) || bytes.Equal(trimmed, []byte("{}")) {
			continue
		}
		// The document itself is never printed in errors: it may be a Secret.
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
		if err != nil {
			return nil, 0, fmt.Errorf("decode manifest document %d: %w", n, err)
		}
		switch o := obj.(type) {
		case *unstructured.Unstructured:
			objs = append(objs, o)
		case *unstructured.UnstructuredList:
			lists++
			for i := range o.Items {
				objs = append(objs, &o.Items[i])
			}
		default:
			return nil, 0, fmt.Errorf("decode manifest document %d: unexpected type %T", n, obj)
		}
	}
}
