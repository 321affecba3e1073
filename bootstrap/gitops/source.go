package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fluxcd/pkg/sourceignore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// SourceRef names a Flux source object: its kind, namespace and name.
type SourceRef struct {
	Kind, Namespace, Name string
}

func (r SourceRef) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// sourceKinds are the kinds a Kustomization's sourceRef may name
// (kustomize-controller's CrossNamespaceSourceReference enum).
var sourceKinds = []string{"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"}

// ParseSource parses a --source mapping, KIND/NAMESPACE/NAME=DIR: the
// folder DIR holds what the Flux source KIND NAMESPACE/NAME serves.
func ParseSource(s string) (SourceRef, string, error) {
	ref, dir, ok := strings.Cut(s, "=")
	parts := strings.Split(ref, "/")
	if !ok || dir == "" || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return SourceRef{}, "", fmt.Errorf("source %q: want KIND/NAMESPACE/NAME=DIR, e.g. GitRepository/flux-system/tenants=../tenants", s)
	}
	r := SourceRef{Kind: parts[0], Namespace: parts[1], Name: parts[2]}
	if !slices.Contains(sourceKinds, r.Kind) {
		return SourceRef{}, "", fmt.Errorf("source %q: kind %q is not a source a Kustomization reads (want one of %s)", s, r.Kind, strings.Join(sourceKinds, ", "))
	}
	return r, dir, nil
}

// sourceRefOf returns the sourceRef of a Flux Kustomization, its namespace
// defaulting to the Kustomization's own, as kustomize-controller does.
func sourceRefOf(ks manifest.Object) SourceRef {
	kind, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = ks.GetNamespace()
	}
	return SourceRef{Kind: kind, Namespace: ns, Name: name}
}

// sourceTree returns the working copy of what ks's source serves: the
// repository for the root source, the mapped folder for a --source, or
// the artifact an ArtifactGenerator of the build produces. Otherwise it
// records one finding saying how to map the source, and returns nil.
func (b *builder) sourceTree(ctx context.Context, ks manifest.Object) *workTree {
	if ks.Origin.File == "" { // the root Kustomization reads the repository
		return b.tree
	}
	ref := sourceRefOf(ks)
	if !slices.Contains(sourceKinds, ref.Kind) {
		b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ks.Ref(), Field: "spec.sourceRef.kind",
			Message: fmt.Sprintf("source kind %q is not one a Kustomization reads (want one of %s)", ref.Kind, strings.Join(sourceKinds, ", "))})
		return nil
	}
	if ref == b.rootSource {
		return b.tree
	}
	if dir, ok := b.opts.Sources[ref]; ok {
		t, err := b.mappedTree(ctx, dir)
		if err != nil {
			b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ks.Ref(), Field: "spec.sourceRef",
				Message: fmt.Sprintf("source %s mapped to %s: %v", ref, dir, err)})
			return nil
		}
		return t
	}
	if ref.Kind == "ExternalArtifact" {
		if t, declared := b.generatedTree(ctx, ref); declared {
			return t // nil: the generator's finding says why
		}
	}
	hint := "pass --source " + ref.String() + "=DIR with the folder it serves (DIR . when it is this repository)"
	if b.rootSource == (SourceRef{}) {
		hint += "; no Kustomization of " + b.target.Name() + " applies " + b.target.Name() + " itself, so the repository's own source is not known"
	}
	b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ks.Ref(), Field: "spec.sourceRef",
		Message: fmt.Sprintf("source %s is not this repository (%s) and is not mapped to a folder, so what it applies is not built: %s",
			ref, b.rootSourceName(), hint)})
	return nil
}

// rootSourceName names the repository's own source for messages.
func (b *builder) rootSourceName() string {
	if b.rootSource == (SourceRef{}) {
		return "root source unknown"
	}
	return "root source " + b.rootSource.String()
}

// mappedTree returns the working copy of a --source folder, taken once per
// build (or once per run when builds share a RenderCache). The repository
// itself maps to the build's own tree.
func (b *builder) mappedTree(ctx context.Context, dir string) (*workTree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if abs == b.repoRoot {
		return b.tree, nil
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.trees[abs]; ok {
		return t, nil
	}
	var t *workTree
	if b.opts.Renders != nil {
		t, err = b.opts.Renders.tree(ctx, "source:"+abs, func() (*workTree, error) { return newSourceTree(b.repoRoot, abs) })
	} else {
		t, err = newSourceTree(b.repoRoot, abs)
	}
	if err != nil {
		return nil, err
	}
	b.trees[abs] = t
	return t, nil
}

// findRootSource finds the repository's own source among the objects the
// root applies: the sourceRef of the Kustomization that applies the
// build's own path (flux bootstrap's flux-system Kustomization in
// clusters/<name>/flux-system/gotk-sync.yaml). It returns that
// Kustomization too, so that the root is built with its spec (patches,
// substitution, namespace) rather than the bare one the build starts from.
func findRootSource(path string, objs []manifest.Object) (SourceRef, manifest.Object, bool) {
	want := cleanPath(path)
	var found []manifest.Object
	for _, o := range objs {
		if !isFluxKustomization(o) {
			continue
		}
		p, _, _ := unstructured.NestedString(o.Object, "spec", "path")
		if cleanPath(p) == want {
			found = append(found, o)
		}
	}
	if len(found) == 0 {
		return SourceRef{}, manifest.Object{}, false
	}
	// Several Kustomizations applying the root path: prefer flux
	// bootstrap's name, then the first by namespace/name.
	sort.SliceStable(found, func(i, j int) bool {
		ri := found[i].GetNamespace() == FluxNamespace && found[i].GetName() == RootName
		rj := found[j].GetNamespace() == FluxNamespace && found[j].GetName() == RootName
		if ri != rj {
			return ri
		}
		return found[i].GetNamespace()+"/"+found[i].GetName() < found[j].GetNamespace()+"/"+found[j].GetName()
	})
	return sourceRefOf(found[0]), found[0], true
}

// cleanPath normalises a Kustomization's spec.path ("./clusters/x/",
// "clusters/x", "/clusters/x") to "clusters/x"; the source root is ".".
func cleanPath(p string) string {
	p = filepath.ToSlash(filepath.Clean("/" + strings.TrimSpace(p)))
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// artifactFilter reports whether a file under dir is left out of the
// artifact source-controller makes of dir: the rules of its .sourceignore
// files, and the default exclusions when there are none, as fluxcd/pkg
// artifact/storage.SourceIgnoreFilter applies them (VCS files always; the
// default extension and CI patterns only when no .sourceignore exists).
func artifactFilter(dir string) (func(path string, isDir bool) bool, error) {
	domain := strings.Split(dir, string(filepath.Separator))
	ps, err := sourceignore.LoadIgnorePatterns(dir, domain)
	if err != nil {
		return nil, fmt.Errorf("read %s files: %w", sourceignore.IgnoreFile, err)
	}
	matcher := sourceignore.NewDefaultMatcher(ps, domain)
	if len(ps) > 0 {
		matcher = sourceignore.NewMatcher(append(sourceignore.VCSPatterns(domain), ps...))
	}
	return func(p string, isDir bool) bool {
		return matcher.Match(strings.Split(p, string(filepath.Separator)), isDir)
	}, nil
}
