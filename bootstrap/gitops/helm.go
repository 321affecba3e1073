package gitops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/sync/errgroup"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// loadedChart is a loaded chart, with where it came from. It is shared by
// the builds of one run (see RenderCache) and never modified.
type loadedChart struct {
	chart *chart.Chart
	// dir is the repository-relative chart directory for the repository's
	// own charts; empty for charts from the cache.
	dir string
	// digest identifies the chart's content: the SHA-256 of its archive, or
	// of its files for a directory.
	digest string

	// schema is the chart's values.schema.json compiled, nil when it has
	// none or it does not compile (see checkValues).
	schemaOnce sync.Once
	schema     *jsonschema.Schema
}

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

// filesDigest is the digest of a loaded chart's files, by name and content.
func filesDigest(ch *chart.Chart) string {
	h := sha256.New()
	for _, f := range ch.Raw {
		fmt.Fprintf(h, "%d:%s%d:", len(f.Name), f.Name, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadArchive loads the chart archive at p, once per run for each distinct
// archive content when the build shares a RenderCache.
func (b *builder) loadArchive(ctx context.Context, p string) (*loadedChart, error) {
	if lc, ok := b.chart(p); ok {
		return lc, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, loadError(p, err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	load := func() (*loadedChart, error) {
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			return nil, loadError(p, err)
		}
		return &loadedChart{chart: ch, digest: digest}, nil
	}
	var lc *loadedChart
	if b.opts.Renders != nil {
		lc, err = b.opts.Renders.charts.do(ctx, digest, load)
	} else {
		lc, err = load()
	}
	if err != nil {
		return nil, err
	}
	b.setChart(p, lc)
	return lc, nil
}

// loadError is the error of loading the chart archive at p, which failed
// with err: Helm's own, loading it by its path, for its clearer messages
// (not a chart archive, not gzip).
func loadError(p string, err error) error {
	if _, lerr := render.LoadChart(p); lerr != nil {
		return lerr
	}
	return fmt.Errorf("load chart %q: %w", p, err)
}

// chart returns the chart this build loaded from p, if it did.
func (b *builder) chart(p string) (*loadedChart, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lc, ok := b.charts[p]
	return lc, ok
}

// setChart remembers the chart this build loaded from p.
func (b *builder) setChart(p string, lc *loadedChart) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.charts[p] = lc
}

// hrFinding reports a problem with a HelmRelease.
func (b *builder) hrFinding(hr manifest.Object, field, msg string) {
	b.addFinding(manifest.Finding{File: hr.Origin.File, Line: hr.Origin.Line, Object: hr.Ref(), Field: field, Message: msg})
}

// expandHelmReleases renders every HelmRelease of the environment and puts
// the objects after those of the Kustomization that applies it.
func (b *builder) expandHelmReleases(ctx context.Context) {
	index := map[string]manifest.Object{}
	for _, blk := range b.blocks {
		for _, o := range blk.objects {
			index[o.ID()] = o
		}
	}
	// Render every HelmRelease side by side (a cloud environment renders
	// several large charts), then place the objects in order.
	type release struct {
		blk  *block
		hr   manifest.Object
		objs []manifest.Object
	}
	var releases []*release
	for _, blk := range b.blocks {
		for _, hr := range blk.objects {
			gvk := hr.GroupVersionKind()
			if gvk.Group == "helm.toolkit.fluxcd.io" && gvk.Kind == "HelmRelease" {
				releases = append(releases, &release{blk: blk, hr: hr})
			}
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, r := range releases {
		g.Go(func() error {
			r.objs = b.renderHelmRelease(ctx, r.hr, index)
			return nil
		})
	}
	g.Wait() // renders report their problems as findings, never as errors

	clusterScoped := clusterScopedKinds(b.blocks)
	for _, r := range releases {
		for _, o := range r.objs {
			if o.GetNamespace() == "" && !clusterScoped[o.GroupVersionKind().GroupKind().String()] {
				o.SetNamespace(releaseNamespace(r.hr))
			}
			r.blk.rendered = append(r.blk.rendered, o)
			if o.GetKind() == "CustomResourceDefinition" {
				if k := crdGroupKind(o.Unstructured); k != "" && crdScope(o.Unstructured) == "Cluster" {
					clusterScoped[k] = true
				}
			}
		}
	}
}

// renderHelmRelease resolves the chart of hr, merges its values and renders
// it. Problems are findings; the result is empty then.
func (b *builder) renderHelmRelease(ctx context.Context, hr manifest.Object, index map[string]manifest.Object) []manifest.Object {
	lc, ok := b.resolveChart(ctx, hr, index)
	if !ok {
		return nil
	}
	values, ok := b.mergedValues(hr, index)
	if !ok {
		return nil
	}
	if !b.checkValues(hr, lc, values) {
		return nil
	}
	crds, _, _ := unstructured.NestedString(hr.Object, "spec", "install", "crds")
	ropts := render.Options{
		ReleaseName: releaseName(hr),
		Namespace:   releaseNamespace(hr),
		Values:      values,
		IncludeCRDs: crds != "Skip",
		KubeVersion: kubeVersion(),
		Limits:      b.opts.RenderLimits,
	}
	renders := b.opts.Renders
	key, keyErr := renderKey(lc, ropts)
	if keyErr != nil {
		renders = nil
	}
	res, sources, err := renders.render(ctx, key, func() (*render.Result, error) {
		return render.Render(ctx, lc.chart, ropts)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // the build is cancelled: no finding
		}
		field := "spec.values"
		if !errors.Is(err, render.ErrInvalidValues) {
			field = ""
		}
		b.hrFinding(hr, field, fmt.Sprintf("chart %s %s does not render: %v", lc.chart.Name(), lc.chart.Metadata.Version, err))
		return nil
	}
	rendered, err := postRender(hr, res.Objects)
	if err != nil {
		b.hrFinding(hr, "spec.postRenderers", err.Error())
		return nil
	}
	hrKey := hr.GetNamespace() + "/" + hr.GetName()
	var out []manifest.Object
	for _, c := range res.CRDs {
		out = append(out, manifest.Object{Unstructured: c, Origin: b.renderedOrigin(lc, hr, sources, c)})
	}
	for _, o := range rendered {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["helm.toolkit.fluxcd.io/name"] = hr.GetName()
		labels["helm.toolkit.fluxcd.io/namespace"] = hr.GetNamespace()
		o.SetLabels(labels)
		out = append(out, manifest.Object{Unstructured: o, Origin: b.renderedOrigin(lc, hr, sources, o)})
	}
	for i := range out {
		out[i].Origin.HelmRelease = hrKey
		out[i].Origin.Kustomization = hr.Origin.Kustomization
	}
	return out
}

// resolveChart finds the chart of hr: the repository's own chart directory
// for an OCIRepository whose URL ends in the name of one, else the cached
// archive of the chart at its version.
func (b *builder) resolveChart(ctx context.Context, hr manifest.Object, index map[string]manifest.Object) (*loadedChart, bool) {
	var ref chartcache.Ref
	var field string
	if cr, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chartRef"); ok {
		field = "spec.chartRef"
		k, _ := cr["kind"].(string)
		name, _ := cr["name"].(string)
		ns, _ := cr["namespace"].(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		if k != "OCIRepository" {
			b.hrFinding(hr, field+".kind", fmt.Sprintf("chartRef kind %q is not supported by the offline build (use OCIRepository)", k))
			return nil, false
		}
		src, ok := index["source.toolkit.fluxcd.io/OCIRepository/"+ns+"/"+name]
		if !ok {
			b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s is not deployed by this environment", ns, name))
			return nil, false
		}
		url, _, _ := unstructured.NestedString(src.Object, "spec", "url")
		chartName := path.Base(url)
		if lc, ok := b.localChart(chartName); ok {
			return lc, true
		}
		tag, _, _ := unstructured.NestedString(src.Object, "spec", "ref", "tag")
		if tag == "" {
			b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s (%s) has no spec.ref.tag: the offline build needs an exact chart version", ns, name, url))
			return nil, false
		}
		ref = chartcache.Ref{Name: chartName, Version: tag, Repository: strings.TrimSuffix(url, "/"+chartName)}
	} else if spec, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chart", "spec"); ok {
		field = "spec.chart.spec"
		name, _ := spec["chart"].(string)
		version, _ := spec["version"].(string)
		sr, _ := spec["sourceRef"].(map[string]any)
		k, _ := sr["kind"].(string)
		srcName, _ := sr["name"].(string)
		ns, _ := sr["namespace"].(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		if k != "HelmRepository" {
			b.hrFinding(hr, field+".sourceRef.kind", fmt.Sprintf("source kind %q is not supported by the offline build (use HelmRepository)", k))
			return nil, false
		}
		src, ok := index["source.toolkit.fluxcd.io/HelmRepository/"+ns+"/"+srcName]
		if !ok {
			b.hrFinding(hr, field+".sourceRef.name", fmt.Sprintf("HelmRepository %s/%s is not deployed by this environment", ns, srcName))
			return nil, false
		}
		url, _, _ := unstructured.NestedString(src.Object, "spec", "url")
		ref = chartcache.Ref{Name: name, Version: version, Repository: url}
		// A pinned platform chart is pulled from where the pin says, even
		// when the environment reads it from a mirror (the local registry).
		if pin, ok := versions.ChartByName(name); ok && pin.Version == version {
			ref.Repository = pin.Repository
		}
	} else {
		b.hrFinding(hr, "spec.chart", "neither spec.chart nor spec.chartRef is set")
		return nil, false
	}

	var p string
	var err error
	if b.opts.Offline {
		p, err = b.opts.ChartCache.Lookup(ref)
	} else {
		p, err = b.opts.ChartCache.Get(ctx, ref)
	}
	if err != nil {
		b.hrFinding(hr, field, err.Error())
		return nil, false
	}
	lc, err := b.loadArchive(ctx, p)
	if err != nil {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s: %v", ref, err))
		return nil, false
	}
	return lc, true
}

// localChart loads charts/<name> from the repository, if it has one.
func (b *builder) localChart(name string) (*loadedChart, bool) {
	dir := path.Join("charts", name)
	full := filepath.Join(b.repoRoot, filepath.FromSlash(dir))
	if _, err := os.Stat(filepath.Join(full, "Chart.yaml")); err != nil {
		return nil, false
	}
	if lc, ok := b.chart(full); ok {
		return lc, true
	}
	ch, err := render.LoadChart(full)
	if err != nil {
		b.addFinding(manifest.Finding{File: dir + "/Chart.yaml", Message: err.Error()})
		return nil, false
	}
	lc := &loadedChart{chart: ch, dir: dir, digest: filesDigest(ch)}
	b.setChart(full, lc)
	return lc, true
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

// releaseName is helm-controller's release name: spec.releaseName, else
// [<targetNamespace>-]<name>.
func releaseName(hr manifest.Object) string {
	if n, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName"); n != "" {
		return n
	}
	if ns, _, _ := unstructured.NestedString(hr.Object, "spec", "targetNamespace"); ns != "" {
		return ns + "-" + hr.GetName()
	}
	return hr.GetName()
}

// releaseNamespace is spec.targetNamespace, else the HelmRelease's.
func releaseNamespace(hr manifest.Object) string {
	if ns, _, _ := unstructured.NestedString(hr.Object, "spec", "targetNamespace"); ns != "" {
		return ns
	}
	return hr.GetNamespace()
}

// kubeVersion is the Kubernetes version of the pinned k3s image.
func kubeVersion() string {
	tag := versions.K3sImage[strings.LastIndex(versions.K3sImage, ":")+1:]
	v, _, _ := strings.Cut(tag, "-")
	v, _, _ = strings.Cut(v, "+")
	return v
}

// templateSources maps "Kind/name" of each rendered document to its
// "# Source:" template path.
func templateSources(manifestText string) map[string]string {
	out := map[string]string{}
	for _, doc := range strings.Split(manifestText, "\n---") {
		var src string
		for _, line := range strings.Split(doc, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
				src = s
				break
			}
		}
		if src == "" {
			continue
		}
		kind, name := kindAndName(doc)
		if kind == "" {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := sigsyaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" {
				continue
			}
			kind, name = meta.Kind, meta.Metadata.Name
		}
		key := kind + "/" + name
		if _, dup := out[key]; !dup {
			out[key] = src
		}
	}
	return out
}

// kindAndName reads a rendered document's top-level kind and metadata.name
// from its lines, without parsing the whole document (CRDs are large). It
// returns empty strings when the document is not laid out plainly, and the
// caller then parses it.
func kindAndName(doc string) (kind, name string) {
	inMeta, indent := false, ""
	for _, line := range strings.Split(doc, "\n") {
		if line == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if line[0] != ' ' {
			inMeta = false
			if v, ok := strings.CutPrefix(line, "kind:"); ok {
				kind = unquote(v)
			} else if strings.TrimRight(line, " ") == "metadata:" {
				inMeta = true
			}
			continue
		}
		if !inMeta {
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		if indent == "" {
			indent = line[:len(line)-len(trimmed)]
		}
		if line[:len(line)-len(trimmed)] != indent {
			continue
		}
		if v, ok := strings.CutPrefix(trimmed, "name:"); ok {
			name = unquote(v)
		}
	}
	if kind == "" || name == "" {
		return "", ""
	}
	return kind, name
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// renderedOrigin is the template an object was rendered from:
// charts/ghillie/templates/x.yaml for the repository's charts, the path in
// the archive (cloudnative-pg/templates/x.yaml) for cached ones.
func (b *builder) renderedOrigin(lc *loadedChart, hr manifest.Object, sources map[string]string, o *unstructured.Unstructured) manifest.Origin {
	src := sources[o.GetKind()+"/"+o.GetName()]
	if src != "" && lc.dir != "" {
		_, rest, _ := strings.Cut(src, "/")
		src = path.Join(lc.dir, rest)
	}
	return manifest.Origin{File: src}
}

// builtinClusterScoped are the Kubernetes kinds that are not namespaced.
var builtinClusterScoped = []string{
	"Namespace", "Node", "PersistentVolume", "ClusterRole.rbac.authorization.k8s.io",
	"ClusterRoleBinding.rbac.authorization.k8s.io", "CustomResourceDefinition.apiextensions.k8s.io",
	"StorageClass.storage.k8s.io", "CSIDriver.storage.k8s.io", "VolumeAttachment.storage.k8s.io",
	"PriorityClass.scheduling.k8s.io", "IngressClass.networking.k8s.io", "RuntimeClass.node.k8s.io",
	"MutatingWebhookConfiguration.admissionregistration.k8s.io",
	"ValidatingWebhookConfiguration.admissionregistration.k8s.io",
	"ValidatingAdmissionPolicy.admissionregistration.k8s.io",
	"ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io",
	"APIService.apiregistration.k8s.io", "CertificateSigningRequest.certificates.k8s.io",
	"FlowSchema.flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io",
	"GatewayClass.gateway.networking.k8s.io",
}

// clusterScopedKinds is the set of cluster-scoped GroupKinds ("Kind.group")
// known so far: the built-in ones and those of the CRDs the manifests hold.
func clusterScopedKinds(blocks []*block) map[string]bool {
	out := map[string]bool{}
	for _, k := range builtinClusterScoped {
		out[k] = true
	}
	for _, blk := range blocks {
		for _, o := range blk.objects {
			if o.GetKind() == "CustomResourceDefinition" && crdScope(o.Unstructured) == "Cluster" {
				out[crdGroupKind(o.Unstructured)] = true
			}
		}
	}
	return out
}

func crdScope(o *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
	return s
}

func crdGroupKind(o *unstructured.Unstructured) string {
	g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	k, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
	if k == "" {
		return ""
	}
	return k + "." + g
}

// postRender applies the HelmRelease's kustomize post-renderers (patches and
// images) to the rendered objects, as helm-controller does before it adds
// its origin labels. CRDs from the chart's crds/ directory are not
// post-rendered, as in Helm.
func postRender(hr manifest.Object, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	prs, _, _ := unstructured.NestedSlice(hr.Object, "spec", "postRenderers")
	for i, pr := range prs {
		m, _ := pr.(map[string]any)
		k, ok := m["kustomize"].(map[string]any)
		if !ok {
			continue
		}
		var spec struct {
			Patches []kustypes.Patch `json:"patches"`
			Images  []kustypes.Image `json:"images"`
		}
		raw, _ := json.Marshal(k)
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("postRenderers[%d].kustomize: %w", i, err)
		}
		var input bytes.Buffer
		for _, o := range objs {
			y, err := sigsyaml.Marshal(o.Object)
			if err != nil {
				return nil, err
			}
			input.WriteString("---\n")
			input.Write(y)
		}
		fs := filesys.MakeFsInMemory()
		const dir = "/post-render"
		kus := kustypes.Kustomization{
			TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
			Resources: []string{"helm-output.yaml"},
			Patches:   spec.Patches,
			Images:    spec.Images,
		}
		kdata, err := sigsyaml.Marshal(kus)
		if err != nil {
			return nil, err
		}
		if err := fs.WriteFile(dir+"/helm-output.yaml", input.Bytes()); err != nil {
			return nil, err
		}
		if err := fs.WriteFile(dir+"/kustomization.yaml", kdata); err != nil {
			return nil, err
		}
		// Flux's Build serialises kustomize runs (kustomize has global state).
		resMap, err := fluxkustomize.Build(fs, dir)
		if err != nil {
			return nil, fmt.Errorf("postRenderers[%d].kustomize: %w", i, err)
		}
		objs = objs[:0:0]
		for _, r := range resMap.Resources() {
			raw, err := r.MarshalJSON()
			if err != nil {
				return nil, err
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw); err != nil {
				return nil, err
			}
			objs = append(objs, u)
		}
	}
	return objs, nil
}
