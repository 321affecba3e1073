package gitops

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

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
	// Render the HelmReleases side by side (a cloud environment renders
	// several large charts), then place the objects in order.
	type release struct {
		blk  *block
		hr   manifest.Object
		objs []manifest.Object
		wave [2]int // Kustomization in apply order, dependsOn depth in it
	}
	var releases []*release
	for i, blk := range b.blocks {
		var inBlock []manifest.Object
		for _, hr := range blk.objects {
			gvk := hr.GroupVersionKind()
			if gvk.Group == "helm.toolkit.fluxcd.io" && gvk.Kind == "HelmRelease" {
				inBlock = append(inBlock, hr)
			}
		}
		depth := releaseDepths(inBlock)
		for j, hr := range inBlock {
			releases = append(releases, &release{blk: blk, hr: hr, wave: [2]int{i, depth[j]}})
		}
	}
	// Templates see the API versions of the cluster they are installed in
	// (helm-controller renders against live discovery): the built-in APIs,
	// Flux's, the CRDs the manifests apply, and those of the charts
	// installed before. Releases render in waves, each seeing the CRDs of
	// the waves before it: one per Kustomization in apply order and, in
	// one Kustomization, one per depth of the HelmReleases' dependsOn
	// (helm-controller installs a release once those it depends on are).
	order := append([]*release(nil), releases...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i].wave, order[j].wave
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	apis := b.baseAPIVersions()
	for start := 0; start < len(order); {
		end := start
		for end < len(order) && order[end].wave == order[start].wave {
			end++
		}
		wave := order[start:end]
		seen := apis.sorted()
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for _, r := range wave {
			g.Go(func() error {
				r.objs = b.renderHelmRelease(ctx, r.hr, index, seen)
				return nil
			})
		}
		g.Wait() // renders report their problems as findings, never as errors
		for _, r := range wave {
			for _, o := range r.objs {
				apis.addCRD(o.Unstructured)
			}
		}
		start = end
	}

	for _, r := range releases {
		for _, o := range r.objs {
			// Helm puts objects without a namespace in the release's; the
			// build clears it again on cluster-scoped kinds (clearClusterScopedNamespaces).
			if o.GetNamespace() == "" {
				o.SetNamespace(releaseNamespace(r.hr))
			}
			r.blk.rendered = append(r.blk.rendered, o)
		}
	}
}

// releaseDepths is, for each HelmRelease of hrs, the length of the
// longest chain of spec.dependsOn from it to others of hrs: 0 for one
// depending on none of them. A cycle (which helm-controller never
// resolves) counts as no dependency where it closes.
func releaseDepths(hrs []manifest.Object) []int {
	byKey := map[string]int{}
	for i, hr := range hrs {
		byKey[hr.GetNamespace()+"/"+hr.GetName()] = i
	}
	depth := make([]int, len(hrs))
	state := make([]int, len(hrs)) // 0 new, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		if state[i] == 1 {
			return -1
		}
		if state[i] == 2 {
			return depth[i]
		}
		state[i] = 1
		deps, _, _ := unstructured.NestedSlice(hrs[i].Object, "spec", "dependsOn")
		for _, d := range deps {
			m, _ := d.(map[string]any)
			name, _ := m["name"].(string)
			ns, _ := m["namespace"].(string)
			if ns == "" {
				ns = hrs[i].GetNamespace()
			}
			if j, ok := byKey[ns+"/"+name]; ok {
				if dd := visit(j); dd >= 0 && dd+1 > depth[i] {
					depth[i] = dd + 1
				}
			}
		}
		state[i] = 2
		return depth[i]
	}
	for i := range hrs {
		visit(i)
	}
	return depth
}

// renderHelmRelease resolves the chart of hr, merges its values and renders
// it. Problems are findings; the result is empty then.
func (b *builder) renderHelmRelease(ctx context.Context, hr manifest.Object, index map[string]manifest.Object, apiVersions []string) []manifest.Object {
	lc, ok := b.resolveChart(ctx, hr, index)
	if !ok {
		return nil
	}
	values, ok := b.mergedValues(ctx, hr, index)
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
		APIVersions: apiVersions,
		// What the cluster's discovery shows helm-controller.
		ExactAPIVersions: true,
		Limits:           b.opts.RenderLimits,
		Cache:            b.opts.Results,
	}
	// A release rendered and post-rendered by an earlier run from the same
	// inputs is read back whole.
	var key [32]byte
	cacheable := false
	if b.opts.Results != nil {
		var err error
		key, err = releaseKey(lc, ropts, hr)
		cacheable = err == nil
		if cacheable {
			if out, ok := b.cachedRelease(key); ok {
				return out
			}
		}
	}
	res, sources, err := b.renderChart(ctx, lc, ropts)
	if err == nil && len(res.CRDs) > 0 {
		// helm-controller applies the crds/ CRDs before it renders the
		// templates (internal/action/install.go), and Helm reads the
		// cluster's API versions at render time: the templates see them.
		// Which CRDs those are depends on the values (disabled subcharts
		// bring none), so they are taken from a first render.
		own := apiVersionSet{}
		for _, v := range apiVersions {
			own[v] = true
		}
		for _, c := range res.CRDs {
			own.addCRD(c)
		}
		if len(own) > len(apiVersions) {
			ropts.APIVersions = own.sorted()
			res, sources, err = b.renderChart(ctx, lc, ropts)
		}
	}
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
	hooks := append(append([]*unstructured.Unstructured{}, res.Hooks...), res.TestHooks...)
	rendered, err := postRender(hr, res.Objects, hooks)
	if err != nil {
		field := "spec.postRenderers"
		if se := (*strategyError)(nil); errors.As(err, &se) {
			field = "spec.postRenderStrategy"
		} else if de := (*duplicateError)(nil); errors.As(err, &de) {
			field = "" // the chart's objects, not a field, repeat one identity
		}
		b.hrFinding(hr, field, err.Error())
		return nil
	}
	// helm-controller's install runs Helm with DisableHooks from
	// spec.install.disableHooks (internal/action/install.go): the hooks are
	// rendered and post-rendered, but never applied.
	disableHooks, _, _ := unstructured.NestedBool(hr.Object, "spec", "install", "disableHooks")
	rendered = installedObjects(rendered, disableHooks)
	hrKey := hr.GetNamespace() + "/" + hr.GetName()
	var out []manifest.Object
	for _, o := range append(crdObjects(hr, res.CRDs), rendered...) {
		out = append(out, manifest.Object{Unstructured: o, Origin: b.renderedOrigin(lc, hr, sources, o)})
	}
	for i := range out {
		out[i].Origin.HelmRelease = hrKey
		out[i].Origin.Kustomization = hr.Origin.Kustomization
	}
	if cacheable {
		b.storeRelease(key, out)
	}
	return out
}

// renderChart renders lc with ropts, once per run for the builds that
// share a RenderCache.
func (b *builder) renderChart(ctx context.Context, lc *loadedChart, ropts render.Options) (*render.Result, map[string]string, error) {
	renders := b.opts.Renders
	key, keyErr := renderKey(lc, ropts)
	if keyErr != nil {
		renders = nil
	}
	return renders.render(ctx, key, func() (*render.Result, error) {
		return render.Render(ctx, lc.chart, ropts)
	})
}

// releaseName is helm-controller v1.6.4's release name: the v2 API's
// GetReleaseName (spec.releaseName, else [<targetNamespace>-]<name>),
// shortened as its internal/release ShortenName does.
func releaseName(hr manifest.Object) string {
	var rel helmv2.HelmRelease
	rel.Name = hr.GetName()
	rel.Spec.ReleaseName, _, _ = unstructured.NestedString(hr.Object, "spec", "releaseName")
	rel.Spec.TargetNamespace, _, _ = unstructured.NestedString(hr.Object, "spec", "targetNamespace")
	return shortenReleaseName(rel.GetReleaseName())
}

// shortenReleaseName fits name in Helm's 53 characters as helm-controller
// v1.6.4 does (internal/release/name.go ShortenName): a longer name is cut
// to 40 characters and followed by "-" and the first 12 hex digits of its
// SHA-256.
func shortenReleaseName(name string) string {
	const maxLength, hashLength = 53, 12
	if len(name) <= maxLength {
		return name
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return name[:maxLength-(hashLength+1)] + "-" + sum[:hashLength]
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
