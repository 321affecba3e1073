// Package gitops builds what an environment of this repository deploys, the
// way Flux would: starting at overlays/<environment>, every Flux
// Kustomization found is followed inside the repository and built with
// fluxcd/pkg/kustomize (the generator and SecureBuild kustomize-controller
// uses), its spec.patches, targetNamespace and namePrefix applied, post-build
// substitution done from the environment's cluster variables; every
// HelmRelease is then rendered client-side from its chart, with its merged
// values.
//
// Problems met on the way are collected as findings naming the file, object
// and field, and the build carries on past them, so that one run reports
// them all.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// Names every environment shares; see overlays/README.md.
const (
	// OverlaysDir holds the environments.
	OverlaysDir = "overlays"
	// VarsFile, in an environment's directory, holds the values of the
	// cluster's cluster-vars ConfigMap as KEY=value lines. Its presence is
	// what makes a directory an environment.
	VarsFile = "cluster-vars.env"
	// VarsConfigMap is the ConfigMap in FluxNamespace that every Flux
	// Kustomization substitutes from.
	VarsConfigMap = "cluster-vars"
	// FluxNamespace is where Flux and its root objects live.
	FluxNamespace = "flux-system"
	// RootName is the name of the cluster's root source (an OCIRepository
	// holding this repository) and of its root Kustomization, both created
	// at bootstrap.
	RootName = "flux-system"
	// RootSourceKind is the kind of the root source.
	RootSourceKind = "OCIRepository"
)

// Options configures Build.
type Options struct {
	// Offline forbids any network access: charts come from the cache only,
	// and a missing one is a finding naming it.
	Offline bool
	// ChartCache holds the platform charts; nil means the default cache
	// (chartcache.DefaultDir).
	ChartCache *chartcache.Cache
	// Vars are extra substitution variables; they override the
	// environment's cluster-vars.env.
	Vars map[string]string
	// Renders, when set, shares chart renders between the builds of one
	// run (see RenderCache).
	Renders *RenderCache
	// RenderLimits bound each chart render in time, output and memory
	// (zero fields take render's defaults); a render past them is a
	// finding naming its HelmRelease.
	RenderLimits render.Limits
}

// Environment is everything an environment deploys.
type Environment struct {
	// Name is the environment, relative to overlays/: "local",
	// "ephemeral/pr-123".
	Name string
	// Vars are the substitution variables the build used.
	Vars map[string]string
	// Objects are every object the environment deploys, rendered chart
	// objects included, in a stable order: each Flux Kustomization's
	// objects (the root's first, then the others in dependency order),
	// each followed by the objects its HelmReleases render.
	Objects []manifest.Object
	// CRDs are every CustomResourceDefinition the environment installs,
	// from its manifests and its charts. Builds sharing a RenderCache share
	// the CRDs they have in common: do not modify them.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Findings are the problems met while building.
	Findings []manifest.Finding
}

// Environments lists every environment of the repository: each directory
// under overlays/ holding a cluster-vars.env, as a slash-separated path
// relative to overlays/, sorted.
func Environments(repoRoot string) ([]string, error) {
	root := filepath.Join(repoRoot, OverlaysDir)
	var envs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != VarsFile {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		if rel != "." {
			envs = append(envs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list environments in %s: %w", root, err)
	}
	sort.Strings(envs)
	return envs, nil
}

// Build builds the environment env of the repository at repoRoot. It returns
// an error only when no result is possible (an unknown environment, an
// unreadable repository); every other problem is a finding.
func Build(ctx context.Context, repoRoot, env string, opts Options) (*Environment, error) {
	envs, err := Environments(repoRoot)
	if err != nil {
		return nil, err
	}
	env = strings.Trim(filepath.ToSlash(env), "/")
	env = strings.TrimPrefix(env, OverlaysDir+"/")
	if !contains(envs, env) {
		return nil, fmt.Errorf("unknown environment %q: want one of %s (directories under %s/ holding a %s)",
			env, strings.Join(envs, ", "), OverlaysDir, VarsFile)
	}
	if opts.ChartCache == nil {
		dir, err := chartcache.DefaultDir(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		if opts.ChartCache, err = chartcache.New(dir, chartcache.WithOffline(opts.Offline)); err != nil {
			return nil, err
		}
	}

	// Kustomize runs in a working copy of the published directories, where
	// the generated kustomizations are written: this build's own, or the
	// one the builds of a run share.
	var tree *workTree
	if opts.Renders != nil {
		tree, err = opts.Renders.tree(ctx, repoRoot)
	} else if tree, err = newWorkTree(repoRoot); err == nil {
		defer os.RemoveAll(tree.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", env, err)
	}

	b := &builder{
		repoRoot: repoRoot,
		tree:     tree,
		env:      env,
		opts:     opts,
		lines:    map[string][]docLine{},
		charts:   map[string]*loadedChart{},
	}
	b.vars = b.readVars()
	for k, v := range opts.Vars {
		b.vars[k] = v
	}
	if err := b.run(ctx); err != nil {
		return nil, err
	}
	out := &Environment{Name: env, Vars: b.vars, Findings: b.findings}
	for _, blk := range b.blocks {
		out.Objects = append(out.Objects, blk.objects...)
		out.Objects = append(out.Objects, blk.rendered...)
	}
	out.CRDs = collectCRDs(out.Objects, opts.Renders)
	for i := range out.Findings {
		out.Findings[i].Environment = env
	}
	manifest.SortFindings(out.Findings)
	return out, nil
}

// builder carries one Build.
type builder struct {
	repoRoot string
	// tree is the working copy kustomize runs in, shared by the builds of
	// a run: hold its lock while writing to it and reading from it.
	tree *workTree
	env  string
	opts Options
	vars map[string]string

	blocks []*block
	lines  map[string][]docLine

	// mu guards findings and charts: HelmReleases render side by side.
	mu       sync.Mutex
	findings []manifest.Finding
	charts   map[string]*loadedChart
	// kube serves the cluster-vars ConfigMap to post-build substitution.
	kube client.Client
}

// workTree is a working copy of a repository's published directories.
type workTree struct {
	dir string
	// customSchema: some kustomization declares `openapi:`, so every build
	// must reset kustomize's schema (see secureBuild).
	customSchema bool
	mu           sync.Mutex
}

// newWorkTree copies the published directories of repoRoot into a new
// temporary directory; on an error nothing is left behind.
func newWorkTree(repoRoot string) (*workTree, error) {
	dir, err := os.MkdirTemp("", "gitops-local-build-*")
	if err != nil {
		return nil, err
	}
	t := &workTree{dir: dir}
	for _, d := range manifest.PublishedDirs {
		if err := copyTree(filepath.Join(repoRoot, d), filepath.Join(dir, d)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("copy %s: %w", d, err)
		}
	}
	t.customSchema = declaresOpenAPI(dir)
	return t, nil
}

// block is what one Flux Kustomization applies, and what its HelmReleases
// render.
type block struct {
	ks       manifest.Object
	key      string // namespace/name
	objects  []manifest.Object
	rendered []manifest.Object
}

func (b *builder) addFinding(f manifest.Finding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.findings = append(b.findings, f)
}

// readVars reads the environment's cluster-vars.env (see ParseVars); a
// line that is not KEY=value is a finding.
func (b *builder) readVars() map[string]string {
	rel := path.Join(OverlaysDir, b.env, VarsFile)
	data, err := os.ReadFile(filepath.Join(b.repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		b.addFinding(manifest.Finding{File: rel, Message: fmt.Sprintf("read cluster variables: %v", err)})
		return map[string]string{}
	}
	vars, bad := ParseVars(data)
	for _, n := range bad {
		b.addFinding(manifest.Finding{File: rel, Line: n, Message: "want KEY=value, with KEY a letter or _ followed by letters, digits or _"})
	}
	return vars
}

// ParseVars parses a cluster-vars.env file: KEY=value lines, with blank
// lines and # comments ignored and spaces around KEY and value trimmed. It
// returns the variables and the numbers of the lines that are not KEY=value
// with KEY a letter or _ followed by letters, digits or _.
func ParseVars(data []byte) (vars map[string]string, bad []int) {
	vars = map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !varName.MatchString(k) {
			bad = append(bad, n+1)
			continue
		}
		vars[k] = strings.TrimSpace(v)
	}
	return vars, bad
}

var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// run builds the root Kustomization, follows every Flux Kustomization it
// finds, then renders the HelmReleases.
func (b *builder) run(ctx context.Context) error {
	root := rootKustomization(b.env)
	queue := []manifest.Object{root}
	seen := map[string]bool{}
	applied := map[string]string{} // object ID -> Kustomization that applies it
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		ks := queue[0]
		queue = queue[1:]
		key := ks.GetNamespace() + "/" + ks.GetName()
		if seen[key] {
			continue
		}
		seen[key] = true
		blk := &block{ks: ks, key: key}
		if ks.Origin.File == "" {
			blk.key = ""
		}
		objs := b.buildKustomization(ctx, ks, blk.key)
		var children []manifest.Object
		for _, o := range objs {
			id := o.ID()
			if other, dup := applied[id]; dup {
				b.addFinding(manifest.Finding{File: o.Origin.File, Line: o.Origin.Line, Object: o.Ref(),
					Message: fmt.Sprintf("applied by both Kustomization %s and %s: they would fight over it", nameOrRoot(other), nameOrRoot(key))})
				continue
			}
			applied[id] = key
			blk.objects = append(blk.objects, o)
			if isFluxKustomization(o) {
				children = append(children, o)
			}
		}
		b.blocks = append(b.blocks, blk)
		queue = append(queue, orderByDependsOn(children)...)
	}
	b.checkKustomizationRefs()
	b.expandHelmReleases(ctx)
	// A cancelled build is no result: what it met after the cancellation
	// (a render stopped half-way, a chart not loaded) says nothing of the
	// repository.
	return ctx.Err()
}

func nameOrRoot(key string) string {
	if key == FluxNamespace+"/"+RootName {
		return key + " (the root)"
	}
	return key
}

// rootKustomization is the Kustomization bootstrap creates for env.
func rootKustomization(env string) manifest.Object {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": RootName, "namespace": FluxNamespace},
		"spec": map[string]any{
			"interval":  "10m",
			"path":      "./" + path.Join(OverlaysDir, env),
			"prune":     true,
			"sourceRef": map[string]any{"kind": RootSourceKind, "name": RootName},
		},
	}}
	return manifest.Object{Unstructured: u}
}

func isFluxKustomization(o manifest.Object) bool {
	gvk := o.GroupVersionKind()
	return gvk.Group == "kustomize.toolkit.fluxcd.io" && gvk.Kind == "Kustomization"
}

// orderByDependsOn sorts Kustomizations so that each comes after those it
// depends on (when they are in the same list), ties broken by
// namespace/name.
func orderByDependsOn(ks []manifest.Object) []manifest.Object {
	sort.SliceStable(ks, func(i, j int) bool {
		return ks[i].GetNamespace()+"/"+ks[i].GetName() < ks[j].GetNamespace()+"/"+ks[j].GetName()
	})
	byKey := map[string]int{}
	for i, k := range ks {
		byKey[k.GetNamespace()+"/"+k.GetName()] = i
	}
	var out []manifest.Object
	state := make([]int, len(ks)) // 0 new, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, d := range dependsOn(ks[i]) {
			if j, ok := byKey[d]; ok && state[j] == 0 {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, ks[i])
	}
	for i := range ks {
		visit(i)
	}
	return out
}

// dependsOn returns the namespace/name of each dependency of a Kustomization
// or HelmRelease (namespace defaulting to the object's).
func dependsOn(o manifest.Object) []string {
	deps, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
	var out []string
	for _, d := range deps {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = o.GetNamespace()
		}
		out = append(out, ns+"/"+name)
	}
	return out
}

// checkKustomizationRefs reports dependsOn entries naming a Kustomization
// the environment does not deploy.
func (b *builder) checkKustomizationRefs() {
	known := map[string]bool{FluxNamespace + "/" + RootName: true}
	for _, blk := range b.blocks {
		for _, o := range blk.objects {
			if isFluxKustomization(o) {
				known[o.GetNamespace()+"/"+o.GetName()] = true
			}
		}
	}
	for _, blk := range b.blocks {
		for _, o := range blk.objects {
			if !isFluxKustomization(o) {
				continue
			}
			for i, d := range dependsOn(o) {
				if !known[d] {
					b.addFinding(manifest.Finding{File: o.Origin.File, Line: o.Origin.Line, Object: o.Ref(),
						Field:   fmt.Sprintf("spec.dependsOn[%d].name", i),
						Message: fmt.Sprintf("Kustomization %s is not deployed by this environment: Flux would wait for it forever", d)})
				}
			}
		}
	}
}

// collectCRDs converts every CustomResourceDefinition among objs, sharing
// the conversions of the run's earlier builds through cache.
func collectCRDs(objs []manifest.Object, cache *RenderCache) []*apiextensionsv1.CustomResourceDefinition {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" || gvk.Version != "v1" {
			continue
		}
		crd, err := cache.crd(o.Unstructured)
		if err != nil {
			continue
		}
		out = append(out, crd)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// copyTree copies the regular files under src to dst; a missing src is no
// error (the repository may not have that directory).
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// FindRepoRoot returns the repository to build from: dir when given (it
// must hold overlays/), else the nearest directory at or above the current
// one that holds overlays/.
func FindRepoRoot(dir string) (string, error) {
	start := dir
	if start == "" {
		start = "."
	}
	abs, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", start, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, OverlaysDir)); err == nil && st.IsDir() {
			return d, nil
		}
		if dir != "" || filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("%s has no %s/ directory: run from the GitOps repository or pass --repo", abs, OverlaysDir)
}
