package gitops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// An ArtifactGenerator (source-watcher, source.extensions.fluxcd.io)
// composes ExternalArtifacts from other sources by copy rules. The build
// produces those artifacts offline with the rules of source-watcher
// v2.2.1's internal/builder (builder.go, merge.go), which the project
// cannot import: the same glob, exclude, destination and merge semantics,
// on working copies of the sources that are known (the repository's own,
// --source folders, other generated artifacts).

const artifactGeneratorGroup = "source.extensions.fluxcd.io"

// artifactGenerator is the part of an ArtifactGenerator's spec the build
// reads (source-watcher api/v2/v1beta1).
type artifactGenerator struct {
	Spec struct {
		Sources []struct {
			Alias     string `json:"alias"`
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"sources"`
		PathPattern string           `json:"pathPattern"`
		Artifacts   []outputArtifact `json:"artifacts"`
	} `json:"spec"`
}

type outputArtifact struct {
	Name string          `json:"name"`
	Copy []copyOperation `json:"copy"`
}

type copyOperation struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Exclude  []string `json:"exclude"`
	Strategy string   `json:"strategy"`
}

// generatorOf finds the ArtifactGenerator among the objects built so far
// that declares the ExternalArtifact ref, with the index of the artifact.
func (b *builder) generatorOf(ref SourceRef) (manifest.Object, *artifactGenerator, int, bool) {
	for _, blk := range b.blocks {
		for _, o := range blk.objects {
			gvk := o.GroupVersionKind()
			if gvk.Group != artifactGeneratorGroup || gvk.Kind != "ArtifactGenerator" || o.GetNamespace() != ref.Namespace {
				continue
			}
			raw, err := json.Marshal(o.Object)
			if err != nil {
				continue
			}
			var g artifactGenerator
			if json.Unmarshal(raw, &g) != nil {
				continue // the schema check reports it
			}
			for i, a := range g.Spec.Artifacts {
				if a.Name == ref.Name {
					return o, &g, i, true
				}
			}
		}
	}
	return manifest.Object{}, nil, 0, false
}

// declaresArtifact reports whether an object built so far generates ref:
// a Kustomization reading an ExternalArtifact waits for its generator.
func (b *builder) declaresArtifact(ref SourceRef) bool {
	_, _, _, ok := b.generatorOf(ref)
	return ok
}

// generatedTree returns the working copy of the ExternalArtifact ref,
// generating it the first time from the ArtifactGenerator that declares
// it, and whether a generator declares it. A generator that cannot be
// followed is one finding on it, and a nil tree.
func (b *builder) generatedTree(ctx context.Context, ref SourceRef) (*workTree, bool) {
	b.mu.Lock()
	t, ok := b.generated[ref]
	b.mu.Unlock()
	if ok {
		return t, true
	}
	gen, spec, i, ok := b.generatorOf(ref)
	if !ok {
		return nil, false
	}
	t, err := b.generate(ctx, gen, spec, i)
	if err != nil {
		field := fmt.Sprintf("spec.artifacts[%d]", i)
		var fe *fieldError
		if errors.As(err, &fe) {
			field += "." + fe.field
		}
		b.addFinding(manifest.Finding{File: gen.Origin.File, Line: gen.Origin.Line, Object: gen.Ref(), Field: field,
			Message: fmt.Sprintf("ExternalArtifact %s/%s is not generated: %v", ref.Namespace, ref.Name, err)})
	}
	b.mu.Lock()
	b.generated[ref] = t // nil when it failed: reported once
	b.mu.Unlock()
	return t, true
}

// fieldError is an error about one field of an artifact's spec.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// generate runs the copy operations of artifact i of the generator into a
// new working copy.
func (b *builder) generate(ctx context.Context, gen manifest.Object, g *artifactGenerator, i int) (*workTree, error) {
	if g.Spec.PathPattern != "" {
		return nil, &fieldError{"", fmt.Errorf("spec.pathPattern is not generated offline")}
	}
	sources := map[string]string{}
	for j, s := range g.Spec.Sources {
		ns := s.Namespace
		if ns == "" {
			ns = gen.GetNamespace()
		}
		ref := SourceRef{Kind: s.Kind, Namespace: ns, Name: s.Name}
		t, err := b.treeOf(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("spec.sources[%d] (%s): %w", j, s.Alias, err)
		}
		sources[s.Alias] = t.dir
	}
	dir, err := os.MkdirTemp("", "gitops-local-artifact-*")
	if err != nil {
		return nil, err
	}
	a := g.Spec.Artifacts[i]
	for j, op := range a.Copy {
		if err := ctx.Err(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := applyCopy(op, sources, dir); err != nil {
			os.RemoveAll(dir)
			return nil, &fieldError{fmt.Sprintf("copy[%d]", j), fmt.Errorf("copy from %q to %q: %w", op.From, op.To, err)}
		}
	}
	// The artifact is archived with source-controller's default
	// exclusions (SourceIgnoreFilter(nil, nil)): drop them here.
	out, err := newSourceTree(b.repoRoot, dir)
	os.RemoveAll(dir)
	if err != nil {
		return nil, err
	}
	out.label = gen.Origin.File + "#" + a.Name
	return out, nil
}

// treeOf returns the working copy of a source a generator reads: the
// repository's own, a --source folder, or another generated artifact.
func (b *builder) treeOf(ctx context.Context, ref SourceRef) (*workTree, error) {
	switch {
	case ref == b.rootSource:
		return b.tree, nil
	case b.opts.Sources[ref] != "":
		return b.mappedTree(ctx, b.opts.Sources[ref])
	case ref.Kind == "ExternalArtifact":
		if t, declared := b.generatedTree(ctx, ref); declared {
			if t == nil {
				return nil, fmt.Errorf("%s is not generated (see its generator's finding)", ref)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("source %s is not this repository and is not mapped to a folder: pass --source %s=DIR", ref, ref)
}

// applyCopy runs one copy operation, as source-watcher's
// applyCopyOperation does.
func applyCopy(op copyOperation, sources map[string]string, staging string) error {
	alias, pattern, ok := strings.Cut(strings.TrimPrefix(op.From, "@"), "/")
	if !strings.HasPrefix(op.From, "@") || !ok {
		return fmt.Errorf("source must be @alias/pattern")
	}
	dest, ok := strings.CutPrefix(op.To, "@artifact/")
	if !ok {
		return fmt.Errorf("destination must start with @artifact/")
	}
	srcDir, ok := sources[alias]
	if !ok {
		return fmt.Errorf("source alias %q not found", alias)
	}
	for _, p := range op.Exclude {
		if _, err := doublestar.Match(p, "."); err != nil {
			return fmt.Errorf("invalid exclude pattern %q", p)
		}
	}
	if op.Strategy == "Extract" {
		return fmt.Errorf("the Extract strategy is not run offline")
	}
	src, err := os.OpenRoot(srcDir)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenRoot(staging)
	if err != nil {
		return err
	}
	defer dst.Close()
	if !strings.ContainsAny(pattern, "*?[]") {
		return copySingle(op, src, pattern, dst, dest, strings.HasSuffix(op.To, "/"))
	}
	matches, err := fs.Glob(src.FS(), pattern)
	if err != nil {
		return fmt.Errorf("invalid glob pattern %q: %w", pattern, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("no files match pattern %q in source %q", pattern, alias)
	}
	base := selectionRoot(pattern)
	var kept []string
	for _, m := range matches {
		if m != "." && m != ".." && !excluded(m, base, op.Exclude) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return fmt.Errorf("all files matching pattern %q in source %q were excluded", pattern, alias)
	}
	for _, m := range kept {
		target := filepath.Join(dest, m)
		if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
			if rel, ok := strings.CutPrefix(m, prefix+"/"); ok {
				target = filepath.Join(dest, rel)
			}
		}
		if err := copyEntry(op, src, m, dst, target, base); err != nil {
			return fmt.Errorf("copy %s to %s: %w", m, target, err)
		}
	}
	return nil
}

// copySingle copies one file or folder named without a glob.
func copySingle(op copyOperation, src *os.Root, p string, dst *os.Root, dest string, toFolder bool) error {
	p = filepath.Clean(p)
	st, err := src.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("source %q does not exist", p)
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return copyEntry(op, src, p, dst, filepath.Join(dest, filepath.Base(p)), p)
	}
	if excluded(p, ".", op.Exclude) {
		return nil
	}
	target := dest
	if toFolder {
		target = filepath.Join(dest, filepath.Base(p))
	} else if dt, err := dst.Stat(dest); err == nil && dt.IsDir() {
		target = filepath.Join(dest, filepath.Base(p))
	}
	return copyEntry(op, src, p, dst, target, ".")
}

// copyEntry copies a file (merging YAML under the Merge strategy when the
// destination exists) or a folder, leaving out what op excludes.
func copyEntry(op copyOperation, src *os.Root, p string, dst *os.Root, target, base string) error {
	st, err := src.Stat(p)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if _, err := dst.Stat(target); err == nil && op.Strategy == "Merge" {
			return mergeFile(src, p, dst, target)
		}
		return copyFile(src, p, dst, target)
	}
	return fs.WalkDir(src.FS(), p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(p, q)
		if err != nil {
			return err
		}
		if rel == "." {
			return dst.MkdirAll(target, 0o755)
		}
		if excluded(q, base, op.Exclude) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return dst.MkdirAll(filepath.Join(target, rel), 0o755)
		}
		return copyFile(src, q, dst, filepath.Join(target, rel))
	})
}

func copyFile(src *os.Root, p string, dst *os.Root, target string) error {
	if d := filepath.Dir(target); d != "." && d != "" {
		if err := dst.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	data, err := src.ReadFile(p)
	if err != nil {
		return err
	}
	return dst.WriteFile(target, data, 0o644)
}

// mergeFile merges the YAML documents of src's p into target as
// source-watcher's Merge strategy does: every document of each file merged
// into one map, then the source's map over the target's, maps merged
// deeply and everything else replaced (Helm's values merge).
func mergeFile(src *os.Root, p string, dst *os.Root, target string) error {
	over, err := loadYAMLMap(src, p)
	if err != nil {
		return err
	}
	base, err := loadYAMLMap(dst, target)
	if err != nil {
		return err
	}
	out, err := yaml.Marshal(mergeYAMLMaps(base, over))
	if err != nil {
		return fmt.Errorf("failed to merge YAML: %w", err)
	}
	return dst.WriteFile(target, out, 0o644)
}

func loadYAMLMap(root *os.Root, p string) (map[string]any, error) {
	data, err := root.ReadFile(p)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("error reading YAML document: %w", err)
		}
		doc := map[string]any{}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("cannot unmarshal YAML document: %w", err)
		}
		out = mergeYAMLMaps(out, doc)
	}
}

// selectionRoot is the part of a glob before its first glob element.
func selectionRoot(pattern string) string {
	var root []string
	for _, part := range strings.Split(filepath.Clean(pattern), string(filepath.Separator)) {
		if strings.ContainsAny(part, "*?[]") {
			break
		}
		root = append(root, part)
	}
	if len(root) == 0 {
		return "."
	}
	return filepath.Join(root...)
}

// excluded reports whether an exclude pattern matches p, its name (for a
// pattern without a separator), or p relative to base.
func excluded(p, base string, patterns []string) bool {
	match := func(p string) bool {
		for _, pat := range patterns {
			if doublestar.MatchUnvalidated(pat, p) {
				return true
			}
			if !strings.Contains(pat, "/") && doublestar.MatchUnvalidated(pat, filepath.Base(p)) {
				return true
			}
		}
		return false
	}
	if len(patterns) == 0 {
		return false
	}
	if match(p) {
		return true
	}
	base, p = filepath.Clean(base), filepath.Clean(p)
	if base == "." || base == "" {
		return false
	}
	rel, err := filepath.Rel(base, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	return match(rel)
}

// mergeYAMLMaps merges over into base: maps deeply, anything else
// replaced, as source-watcher's mergeMap (after Helm's values merge).
func mergeYAMLMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeYAMLMaps(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
