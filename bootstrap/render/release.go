package render

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderedRelease is what Render needs of a client-only install.
type renderedRelease struct {
	// chart is the chart as rendered: its disabled subcharts dropped.
	chart *chart.Chart
	// manifest is the release manifest, without CRDs.
	manifest string
	notes    string
	// objects are manifest's objects, in order.
	objects []*unstructured.Unstructured
	hooks   []*release.Hook
}

// renderInstall renders ch (which it modifies) with a client-only dry run of
// Helm's install action, and decodes the manifest.
func renderInstall(ctx context.Context, ch *chart.Chart, values map[string]any, opts Options, kubeVersion *common.KubeVersion) (*renderedRelease, error) {
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = opts.ReleaseName
	install.Namespace = opts.Namespace
	install.KubeVersion = kubeVersion
	install.APIVersions = common.VersionSet(opts.APIVersions)
	if opts.ExactAPIVersions {
		// A client-only install starts from Helm's default capabilities
		// and adds APIVersions to them (pkg/action/install.go, v4.2.4):
		// the defaults are swapped for the run, one install at a time.
		defaultCapsMu.Lock()
		defer defaultCapsMu.Unlock()
		saved := common.DefaultCapabilities
		caps := saved.Copy()
		caps.APIVersions = nil
		common.DefaultCapabilities = caps
		defer func() { common.DefaultCapabilities = saved }()
	}
	install.IncludeCRDs = false         // CRDs are added by Render, kept apart from the templates.
	install.SkipSchemaValidation = true // Done by Render, with a clearer error.
	install.DisableOpenAPIValidation = true
	install.EnableDNS = false

	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("unexpected release type %T", rel)
	}
	out := &renderedRelease{chart: ch, manifest: r.Manifest, hooks: r.Hooks}
	if r.Info != nil {
		out.notes = r.Info.Notes
	}
	if out.objects, err = decodeObjects(r.Manifest); err != nil {
		return nil, err
	}
	return out, nil
}

// renderDirect renders ch (which it modifies) as renderInstall does, with
// the same steps as Helm's client-only install (release name check,
// dependency processing, render values, kubeVersion check, templates,
// NOTES.txt, hooks and manifests sorted in install order), but parses each
// rendered document once, for both the sorting and the objects: the install
// action parses every document to sort it and the manifest is then parsed
// again, which for charts shipping CRDs in their templates is most of a
// render's time.
//
// It reports false whenever the install action might fail or parse a
// document differently (a parse error, a head field of an unexpected type or
// spelling, a List, a separator inside a document); Render then uses
// renderInstall, for Helm's own result or error.
func renderDirect(ch *chart.Chart, values map[string]any, opts Options, kubeVersion *common.KubeVersion) (*renderedRelease, bool) {
	if chartv2util.ValidateReleaseName(opts.ReleaseName) != nil {
		return nil, false
	}
	if chartv2util.ProcessDependencies(ch, values) != nil {
		return nil, false
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kubeVersion
	caps.APIVersions = apiVersionsFor(caps.APIVersions, opts)
	relOpts := common.ReleaseOptions{Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values, relOpts, caps, true)
	if err != nil {
		return nil, false
	}
	if ch.Metadata.KubeVersion != "" && !chartv2util.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, false
	}
	var e engine.Engine
	files, err := e.Render(ch, vals)
	if err != nil {
		return nil, false
	}

	out := &renderedRelease{chart: ch}
	// Only the chart's own NOTES.txt is kept; every NOTES.txt is left out
	// of the manifest.
	var notes strings.Builder
	for name, text := range files {
		if !strings.HasSuffix(name, notesFile) {
			continue
		}
		if name == path.Join(ch.Name(), "templates", notesFile) {
			if notes.Len() > 0 {
				notes.WriteString("\n")
			}
			notes.WriteString(text)
		}
		delete(files, name)
	}
	out.notes = notes.String()

	type manifestDoc struct {
		kind string
		// text is the document as the manifest holds it, preceded by its
		// separator and source comment.
		text string
		objs []*unstructured.Unstructured
	}
	var docs []manifestDoc
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		content := files[name]
		if strings.HasPrefix(path.Base(name), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, m := range splitManifests(content) {
			// A line starting with --- would split the manifest stream
			// elsewhere than Helm split the file.
			if strings.HasPrefix(m, "---") || strings.Contains(m, "\n---") {
				return nil, false
			}
			text := "---\n# Source: " + name + "\n" + m + "\n"
			objs, ok := decodeDocument(text)
			if !ok {
				var lists int
				var err error
				objs, lists, err = decodeDocuments(text)
				if err != nil || lists > 0 || len(objs) > 1 {
					return nil, false
				}
			}
			h, ok := headOf(objs)
			if !ok {
				return nil, false
			}
			hookTypes, isHook := h.annotations[release.HookAnnotation]
			if !isHook {
				docs = append(docs, manifestDoc{kind: h.kind, text: text, objs: objs})
				continue
			}
			if hook, known := newHook(h, hookTypes, name, m); known {
				out.hooks = append(out.hooks, hook)
			}
		}
	}
	order := map[string]int{}
	for i, k := range releaseutil.InstallOrder {
		order[k] = i
	}
	sort.SliceStable(docs, func(i, j int) bool { return lessKind(order, docs[i].kind, docs[j].kind) })
	sort.SliceStable(out.hooks, func(i, j int) bool { return lessKind(order, out.hooks[i].Kind, out.hooks[j].Kind) })

	var manifest strings.Builder
	for _, d := range docs {
		manifest.WriteString(d.text)
		out.objects = append(out.objects, d.objs...)
	}
	out.manifest = manifest.String()
	return out, true
}

const notesFile = "NOTES.txt"

// lessKind orders kinds as Helm's install order does: known kinds in that
// order, then unknown ones alphabetically.
func lessKind(order map[string]int, a, b string) bool {
	first, aok := order[a]
	second, bok := order[b]
	switch {
	case !aok && !bok:
		return a < b
	case !aok:
		return false
	case !bok:
		return true
	}
	return first < second
}

// head is what Helm reads of a document to sort it.
type head struct {
	kind, name  string
	annotations map[string]string
}

// headOf reads the head of a document decoded to objs (none for an empty
// document). It reports false when Helm's own reading could differ or fail:
// Helm decodes the head into a Go struct, case-insensitively and with
// string-typed fields.
func headOf(objs []*unstructured.Unstructured) (head, bool) {
	if len(objs) == 0 {
		return head{}, true
	}
	o := objs[0].Object
	if !onlyExactly(o, "kind", "apiVersion", "metadata") {
		return head{}, false
	}
	var h head
	var ok bool
	if h.kind, ok = o["kind"].(string); !ok {
		return head{}, false
	}
	if v, found := o["apiVersion"]; found {
		if _, ok := v.(string); !ok && v != nil {
			return head{}, false
		}
	}
	md, found := o["metadata"]
	if !found || md == nil {
		return h, true
	}
	meta, ok := md.(map[string]any)
	if !ok || !onlyExactly(meta, "name", "annotations") {
		return head{}, false
	}
	if n, found := meta["name"]; found && n != nil {
		if h.name, ok = n.(string); !ok {
			return head{}, false
		}
	}
	if a, found := meta["annotations"]; found && a != nil {
		am, ok := a.(map[string]any)
		if !ok {
			return head{}, false
		}
		h.annotations = make(map[string]string, len(am))
		for k, v := range am {
			s, ok := v.(string)
			if !ok {
				return head{}, false
			}
			h.annotations[k] = s
		}
	}
	return h, true
}

// onlyExactly reports whether every key of m that matches one of names
// case-insensitively matches it exactly.
func onlyExactly(m map[string]any, names ...string) bool {
	for k := range m {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return false
			}
		}
	}
	return true
}

// hookEvents are the hook events Helm knows, by annotation value.
var hookEvents = map[string]release.HookEvent{
	string(release.HookPreInstall):   release.HookPreInstall,
	string(release.HookPostInstall):  release.HookPostInstall,
	string(release.HookPreDelete):    release.HookPreDelete,
	string(release.HookPostDelete):   release.HookPostDelete,
	string(release.HookPreUpgrade):   release.HookPreUpgrade,
	string(release.HookPostUpgrade):  release.HookPostUpgrade,
	string(release.HookPreRollback):  release.HookPreRollback,
	string(release.HookPostRollback): release.HookPostRollback,
	string(release.HookTest):         release.HookTest,
	"test-success":                   release.HookTest, // Helm 2's name
}

// newHook makes the hook of a document as Helm does; known is false when
// one of its events is unknown, and Helm skips the document.
func newHook(h head, hookTypes, file, manifest string) (hook *release.Hook, known bool) {
	weight, err := strconv.Atoi(h.annotations[release.HookWeightAnnotation])
	if err != nil {
		weight = 0
	}
	hook = &release.Hook{
		Name:              h.name,
		Kind:              h.kind,
		Path:              file,
		Manifest:          manifest,
		Events:            []release.HookEvent{},
		Weight:            weight,
		DeletePolicies:    []release.HookDeletePolicy{},
		OutputLogPolicies: []release.HookOutputLogPolicy{},
	}
	for t := range strings.SplitSeq(hookTypes, ",") {
		e, ok := hookEvents[strings.ToLower(strings.TrimSpace(t))]
		if !ok {
			return nil, false
		}
		hook.Events = append(hook.Events, e)
	}
	if v, ok := h.annotations[release.HookDeleteAnnotation]; ok {
		for p := range strings.SplitSeq(v, ",") {
			hook.DeletePolicies = append(hook.DeletePolicies, release.HookDeletePolicy(strings.ToLower(strings.TrimSpace(p))))
		}
	}
	if v, ok := h.annotations[release.HookOutputLogAnnotation]; ok {
		for p := range strings.SplitSeq(v, ",") {
			hook.OutputLogPolicies = append(hook.OutputLogPolicies, release.HookOutputLogPolicy(strings.ToLower(strings.TrimSpace(p))))
		}
	}
	return hook, true
}

// defaultCapsMu serialises the installs that swap Helm's default
// capabilities (see renderInstall).
var defaultCapsMu sync.Mutex

// apiVersionsFor is the API versions a render with opts shows templates,
// given Helm's defaults.
func apiVersionsFor(defaults common.VersionSet, opts Options) common.VersionSet {
	if opts.ExactAPIVersions {
		return append(common.VersionSet{}, opts.APIVersions...)
	}
	return append(append(common.VersionSet{}, defaults...), opts.APIVersions...)
}
