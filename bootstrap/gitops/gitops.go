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
	// Results, when set, keeps chart renders (see render.Options.Cache)
	// and each HelmRelease's objects (see releaseKey) between runs, on
	// disk (see bootstrap/resultcache).
	Results render.ResultCache
	// Sources maps Flux sources other than the repository's own to the
	// local folders holding what they serve (--source KIND/NS/NAME=DIR).
	Sources map[SourceRef]string
	// Revisions are the revisions the sources serve, as source-controller
	// reports them ("main@sha1:<commit>" for a GitRepository). A chart
	// read from a GitRepository or Bucket with reconcileStrategy Revision
	// carries its source's revision in its version; without it here the
	// version is the chart's own.
	Revisions map[SourceRef]string
	// Fixtures, when set, is a directory of YAML files holding objects
	// that exist in the cluster but not in Git (see ReadFixtures): the
	// ConfigMaps and Secrets post-build substitution reads, and objects
	// references may name. A malformed file is an error.
	Fixtures string
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
	// Fixtures are the objects of Options.Fixtures: in the cluster, not
	// deployed by the environment.
	Fixtures []manifest.Object
}

// ErrNoEnvironments is wrapped by Environments' error for a repository
// without any environment: checking nothing is not a success.
var ErrNoEnvironments = errors.New("no environments")

// Environments lists every environment of the repository: each directory
// under overlays/ holding a cluster-vars.env, as a slash-separated path
// relative to overlays/, sorted. None is an error wrapping
// ErrNoEnvironments.
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
	if len(envs) == 0 {
		return nil, fmt.Errorf("%w: no directory under %s holds a %s", ErrNoEnvironments, root, VarsFile)
	}
	sort.Strings(envs)
	return envs, nil
}

// Build builds the environment env of the repository at repoRoot
// (overlays/<env>); see BuildTarget.
func Build(ctx context.Context, repoRoot, env string, opts Options) (*Environment, error) {
	return BuildTarget(ctx, repoRoot, Target{Env: env}, opts)
}

// BuildTarget builds what t deploys from the repository at repoRoot. It
// returns an error only when no result is possible (an unknown environment
// or path, an unreadable repository, a bad option); every other problem is
// a finding.
func BuildTarget(ctx context.Context, repoRoot string, t Target, opts Options) (*Environment, error) {
	t, err := t.resolve(repoRoot, opts)
	if err != nil {
		return nil, err
	}
	var fixtures []manifest.Object
	if opts.Fixtures != "" {
		if fixtures, err = ReadFixtures(opts.Fixtures); err != nil {
			return nil, err
		}
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

	b := &builder{
		repoRoot:  repoRoot,
		target:    t,
		env:       t.Env,
		opts:      opts,
		lines:     map[string][]docLine{},
		charts:    map[string]*loadedChart{},
		trees:     map[string]*workTree{},
		generated: map[SourceRef]*workTree{},
	}
	// Kustomize runs in a working copy of what the root source serves,
	// where the generated kustomizations are written: this build's own, or
	// the one the builds of a run share.
	b.tree, err = b.newTree(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name(), err)
	}
	defer b.removeTrees()
	if t.Env != "" {
		// This repository's layout: up creates the root source and the
		// cluster-vars ConfigMap from overlays/<env>/cluster-vars.env.
		b.rootSource = SourceRef{Kind: RootSourceKind, Namespace: FluxNamespace, Name: RootName}
		b.vars = b.readVars()
		for k, v := range opts.Vars {
			b.vars[k] = v
		}
	}
	if b.base, err = baseSources(b.env, b.vars, fixtures); err != nil {
		return nil, err
	}
	b.sources = b.base
	if err := b.run(ctx); err != nil {
		return nil, err
	}
	out := &Environment{Name: t.Name(), Vars: b.vars, Findings: b.findings, Fixtures: fixtures}
	for _, blk := range b.blocks {
		out.Objects = append(out.Objects, blk.objects...)
		out.Objects = append(out.Objects, blk.rendered...)
	}
	clearClusterScopedNamespaces(out.Objects)
	out.CRDs = collectCRDs(out.Objects, opts.Renders)
	for i := range out.Findings {
		out.Findings[i].Environment = t.Name()
	}
	manifest.SortFindings(out.Findings)
	return out, nil
}

// builder carries one Build.
type builder struct {
	repoRoot string
	target   Target
	// tree is the working copy of the root source kustomize runs in,
	// shared by the builds of a run: hold its lock while writing to it and
	// reading from it.
	tree *workTree
	// rootSource is the Flux source that serves the repository itself;
	// zero while not known.
	rootSource SourceRef
	// trees are the working copies of --source folders, by absolute path;
	// generated those of the ExternalArtifacts an ArtifactGenerator makes.
	trees     map[string]*workTree
	generated map[SourceRef]*workTree
	env       string // the environment, empty for a path target
	opts      Options
	// vars are the cluster-vars ConfigMap's data (environments only).
	vars map[string]string

	blocks []*block
	lines  map[string][]docLine

	// mu guards findings and charts: HelmReleases render side by side.
	mu       sync.Mutex
	findings []manifest.Finding
	charts   map[string]*loadedChart
	// base are the ConfigMaps and Secrets in the cluster before the
	// environment applies anything; sources are those a walk's
	// substitutions read from (see walkSettled), served by kube, and
	// substReads which of them a walk's substitutions read.
	base, sources clusterSources
	kube          client.Client
	substReads    map[string]bool
	// substNeeds are each Kustomization's required substituteFrom
	// entries, for checkSubstitutionDeadlocks.
	substNeeds map[string][]substNeed
}

// workTree is a working copy of what a Flux source serves.
type workTree struct {
	dir string
	// label is where the copied folder is, relative to the repository
	// ("" for the repository itself): findings name files through it.
	label string
	// customSchema: some kustomization declares `openapi:`, so every build
	// must reset kustomize's schema (see secureBuild).
	customSchema bool
	mu           sync.Mutex
}

// newWorkTree copies the published directories of repoRoot into a new
// temporary directory: the artifact up pushes as the root source of an
// environment. On an error nothing is left behind.
func newWorkTree(repoRoot string) (*workTree, error) {
	dir, err := os.MkdirTemp("", "gitops-local-build-*")
	if err != nil {
		return nil, err
	}
	t := &workTree{dir: dir}
	for _, d := range manifest.PublishedDirs {
		if err := copyTree(filepath.Join(repoRoot, d), filepath.Join(dir, d), nil); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("copy %s: %w", d, err)
		}
	}
	t.customSchema = declaresOpenAPI(dir)
	return t, nil
}

// newSourceTree copies src as source-controller archives it for a
// GitRepository or Bucket (see artifactFilter) into a new temporary
// directory. On an error nothing is left behind.
func newSourceTree(repoRoot, src string) (*workTree, error) {
	skip, err := artifactFilter(src)
	if err != nil {
		return nil, err
	}
	label, err := filepath.Rel(repoRoot, src)
	if err != nil {
		return nil, err
	}
	if label == "." {
		label = ""
	}
	dir, err := os.MkdirTemp("", "gitops-local-build-*")
	if err != nil {
		return nil, err
	}
	t := &workTree{dir: dir, label: filepath.ToSlash(label)}
	if err := copyTree(src, dir, skip); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	t.customSchema = declaresOpenAPI(dir)
	return t, nil
}

// newTree takes the working copy of the root source of t: the published
// directories for an environment, the whole repository for a path.
func (b *builder) newTree(ctx context.Context, t Target) (*workTree, error) {
	copyRoot := func() (*workTree, error) {
		if t.Env != "" {
			return newWorkTree(b.repoRoot)
		}
		return newSourceTree(b.repoRoot, b.repoRoot)
	}
	if b.opts.Renders == nil {
		return copyRoot()
	}
	key := "published:" + b.repoRoot
	if t.Env == "" {
		key = "source:" + b.repoRoot
	}
	return b.opts.Renders.tree(ctx, key, copyRoot)
}

// removeTrees removes the working copies a build took for itself: the
// generated artifacts always, the others when no RenderCache shares them.
func (b *builder) removeTrees() {
	var trees []*workTree
	if b.opts.Renders == nil {
		trees = append([]*workTree{b.tree}, valuesOf(b.trees)...)
	}
	for _, t := range append(trees, valuesOf(b.generated)...) {
		if t != nil { // a generation that failed left none
			os.RemoveAll(t.dir)
		}
	}
}

// dropGenerated removes the artifacts generated so far.
func (b *builder) dropGenerated() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ref, t := range b.generated {
		if t != nil {
			os.RemoveAll(t.dir)
		}
		delete(b.generated, ref)
	}
}

func valuesOf[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
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
	data, err := ReadVarsFile(filepath.Join(b.repoRoot, filepath.FromSlash(rel)))
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

// ReadVarsFile reads the cluster-vars.env file at p, which must be a
// regular file: a symbolic link could lead anywhere on this machine (its
// values would then be substituted into what build prints and up applies),
// and the artifact the cluster reads holds regular files only.
func ReadVarsFile(p string) ([]byte, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (a symbolic link?): only the repository's own files are read", p)
	}
	return os.ReadFile(p)
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

// run walks the Kustomizations until their substitutions settle, then
// renders the HelmReleases.
func (b *builder) run(ctx context.Context) error {
	if err := b.walkSettled(ctx); err != nil {
		return err
	}
	b.checkKustomizationRefs()
	b.expandHelmReleases(ctx)
	// A cancelled build is no result: what it met after the cancellation
	// (a render stopped half-way, a chart not loaded) says nothing of the
	// repository.
	return ctx.Err()
}

// walk builds the root Kustomization and follows every Flux Kustomization
// it finds.
func (b *builder) walk(ctx context.Context) error {
	b.dropGenerated() // a walk generates artifacts afresh, with its findings
	root := rootKustomization(b.target)
	queue := []manifest.Object{root}
	seen := map[string]bool{}
	deferred := map[string]bool{}
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
		// A Kustomization reading an ExternalArtifact is built once the
		// ArtifactGenerator declaring it is, if another Kustomization
		// still to be built may apply it.
		if ref := sourceRefOf(ks); ref.Kind == "ExternalArtifact" && len(queue) > 0 && !deferred[key] && !b.declaresArtifact(ref) {
			deferred[key] = true
			queue = append(queue, ks)
			continue
		}
		seen[key] = true
		blk := &block{ks: ks, key: key}
		if ks.Origin.File == "" {
			blk.key = ""
		}
		objs := b.buildKustomization(ctx, ks, blk.key)
		if ks.Origin.File == "" && b.target.Path != "" {
			// A flux bootstrap repository applies its root path with a
			// Kustomization of its own: that names the repository's
			// source, and its spec is what the cluster builds the root with.
			if src, self, ok := findRootSource(b.target.Path, objs); ok {
				b.rootSource = src
				if selfKey := self.GetNamespace() + "/" + self.GetName(); selfKey != key || hasBuildSpec(self) {
					delete(seen, key)
					seen[selfKey] = true
					key = selfKey
					blk = &block{ks: self, key: selfKey}
					objs = b.buildKustomization(ctx, self, selfKey)
				}
			}
		}
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
	return nil
}

// hasBuildSpec reports whether a Kustomization sets anything that changes
// what its path builds to, beyond the path and source the bare root has.
func hasBuildSpec(ks manifest.Object) bool {
	spec, _, _ := unstructured.NestedMap(ks.Object, "spec")
	for k := range spec {
		switch k {
		case "patches", "images", "targetNamespace", "namePrefix", "nameSuffix", "postBuild", "components", "commonMetadata", "namespace":
			return true
		}
	}
	return false
}

func nameOrRoot(key string) string {
	if key == FluxNamespace+"/"+RootName {
		return key + " (the root)"
	}
	return key
}

// rootKustomization is the Kustomization that applies t: the one up
// creates for an environment (RootObjects), or for a path the one flux
// bootstrap creates, until the build finds the repository's own (see
// findRootSource).
func rootKustomization(t Target) manifest.Object {
	ks := RootObjects(t.Env, "", nil).Kustomization
	if t.Path != "" {
		ks.Spec.Path = t.rootPath()
		ks.Spec.SourceRef.Kind = "GitRepository"
	}
	u, err := toUnstructured(ks)
	if err != nil {
		panic(err) // a typed Kustomization always converts
	}
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

// copyTree copies the regular files under src to dst, leaving out those
// skip reports (nil: none) and anything that is not a regular file or a
// folder, as source-controller's archives do; a missing src is no error
// (the repository may not have that directory).
func copyTree(src, dst string, skip func(path string, isDir bool) bool) error {
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
			if d.Name() == ".git" && p != src {
				return filepath.SkipDir // never in an artifact (sourceignore.ExcludeVCS)
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || (skip != nil && skip(p, false)) {
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
