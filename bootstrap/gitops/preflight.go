package gitops

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// preflight checks what kustomize (and Flux's generator before it) would
// read to build dir, in the working copy root, before either runs:
//
//   - a remote base or file. kustomize-controller's --no-remote-bases does
//     not stop kustomize from fetching one: fluxcd/pkg/kustomize v1.35.7
//     SecureBuild(root, dir, false) only builds on a filesystem confined to
//     root (filesys.MakeFsOnDiskSecure), and kustomize's loader (api
//     v0.21.1 internal/loader/fileloader.go) runs git clone into
//     $TMPDIR/kustomize-* or sends the HTTP GET first; the confined
//     filesystem then refuses the clone's directory.
//   - a YAML file whose aliases expand beyond what Kubernetes' decoders
//     accept (manifest.CheckYAMLAliases): kustomize's parser expands them
//     all.
//
// Each is a finding naming the file (and the kustomization's field); it
// returns how many.
func (b *builder) preflight(root, dir, ks string) int {
	found := 0
	report := func(file string, line int, field, msg string) {
		b.addFinding(manifest.Finding{File: b.rel(file), Line: line, Object: ks, Field: field, Message: msg})
		found++
	}
	walkKustomizeInputs(root, dir, func(file string, data []byte) bool {
		if err := manifest.CheckYAMLAliases(data); err != nil {
			report(file, 0, "", fmt.Sprintf("%v: %s is not built", err, ks))
			return false
		}
		return true
	}, func(file string, data []byte, k *kustypes.Kustomization) {
		for _, r := range remoteRefs(k) {
			report(file, lineOfText(data, r.ref), r.field,
				fmt.Sprintf("remote %s %q is not fetched offline: vendor it into the repository", r.what, r.ref))
		}
	})
	return found
}

// kustomizeRef is one reference of a kustomization to another file or
// directory.
type kustomizeRef struct {
	field, ref string
	// base: kustomize tries the reference as a base (a kustomization
	// directory, possibly a git repository) before as a file.
	base bool
	// yaml: kustomize parses the file as YAML (not a generator's data).
	yaml bool
}

// refsOf lists every file or directory k refers to, with its field.
func refsOf(k *kustypes.Kustomization) []kustomizeRef {
	var refs []kustomizeRef
	add := func(field string, list []string, base, yaml bool) {
		for i, r := range list {
			if r != "" {
				refs = append(refs, kustomizeRef{field: fmt.Sprintf("%s[%d]", field, i), ref: r, base: base, yaml: yaml})
			}
		}
	}
	add("resources", k.Resources, true, true)
	add("components", k.Components, true, true)
	//lint:ignore SA1019 kustomize still reads the deprecated field
	add("bases", k.Bases, true, true)
	add("generators", k.Generators, true, true)
	add("transformers", k.Transformers, true, true)
	add("validators", k.Validators, true, true)
	add("crds", k.Crds, false, true)
	add("configurations", k.Configurations, false, true)
	for i, p := range k.Patches {
		if p.Path != "" {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("patches[%d].path", i), ref: p.Path, yaml: true})
		}
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field
	for i, p := range k.PatchesJson6902 {
		if p.Path != "" {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("patchesJson6902[%d].path", i), ref: p.Path, yaml: true})
		}
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field
	for i, p := range k.PatchesStrategicMerge {
		// An entry is a file name or an inline patch; only a one-line
		// entry can be a file.
		if s := string(p); s != "" && !strings.ContainsAny(s, "\n:") || isRemoteFile(s) {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("patchesStrategicMerge[%d]", i), ref: s, yaml: true})
		}
	}
	for i, r := range k.Replacements {
		if r.Path != "" {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("replacements[%d].path", i), ref: r.Path, yaml: true})
		}
	}
	if p := k.OpenAPI["path"]; p != "" {
		refs = append(refs, kustomizeRef{field: "openapi.path", ref: p, yaml: true})
	}
	gen := func(field string, i int, a kustypes.GeneratorArgs) {
		for j, s := range a.FileSources {
			// [{key}=]{path}
			if _, p, ok := strings.Cut(s, "="); ok {
				s = p
			}
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("%s[%d].files[%d]", field, i, j), ref: s})
		}
		for j, s := range a.EnvSources {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("%s[%d].envs[%d]", field, i, j), ref: s})
		}
		if a.EnvSource != "" {
			refs = append(refs, kustomizeRef{field: fmt.Sprintf("%s[%d].env", field, i), ref: a.EnvSource})
		}
	}
	for i, g := range k.ConfigMapGenerator {
		gen("configMapGenerator", i, g.GeneratorArgs)
	}
	for i, g := range k.SecretGenerator {
		gen("secretGenerator", i, g.GeneratorArgs)
	}
	return refs
}

// remoteRef is a reference kustomize would fetch.
type remoteRef struct{ field, ref, what string }

// remoteRefs lists the references of k that kustomize would fetch from the
// network (or clone from outside the repository, for file:// URLs).
func remoteRefs(k *kustypes.Kustomization) []remoteRef {
	var out []remoteRef
	for _, r := range refsOf(k) {
		switch {
		case r.base && isRemoteBase(r.ref):
			out = append(out, remoteRef{field: r.field, ref: r.ref, what: "base"})
		case isRemoteFile(r.ref):
			out = append(out, remoteRef{field: r.field, ref: r.ref, what: "file"})
		}
	}
	return out
}

// isRemoteBase reports whether kustomize would clone ref as a git
// repository: its loader does when git.NewRepoSpecFromURL parses it
// (kustomize api v0.21.1, internal/loader/fileloader.go New), which the
// package's exported resource.Origin.Append also calls, setting Repo.
func isRemoteBase(ref string) (remote bool) {
	// The loader strips a "git::" prefix (with a warning on the standard
	// logger) and clones the rest.
	if strings.HasPrefix(ref, "git::") {
		return true
	}
	defer func() {
		if recover() != nil {
			remote = true // not a path kustomize could read locally either
		}
	}()
	return (&resource.Origin{}).Append(ref).Repo != ""
}

// isRemoteFile reports whether kustomize would fetch ref over HTTP: as
// kustomize's loader.IsRemoteFile (internal/loader/fileloader.go), a URL
// with the http or https scheme.
func isRemoteFile(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// walkKustomizeInputs visits the files a build of dir reads: its
// kustomization file and, following its references inside root, the
// kustomizations and files they name; without a kustomization file, every
// YAML file under dir, as Flux's generator lists them (a subdirectory with
// its own kustomization file is followed as one). file is called with each
// file's content before anything parses it and returns whether it may be
// parsed; kustomization is called with each kustomization file, its
// content and the content parsed.
func walkKustomizeInputs(root, dir string, file func(path string, data []byte) bool, kustomization func(path string, data []byte, k *kustypes.Kustomization)) {
	seen := map[string]bool{}
	read := func(p string) ([]byte, bool) {
		if seen[p] {
			return nil, false
		}
		seen[p] = true
		data, err := os.ReadFile(p)
		return data, err == nil
	}
	inside := func(p string) bool {
		r, err := filepath.Rel(root, p)
		return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
	}
	var walk func(dir string)
	walk = func(dir string) {
		if seen[dir] || !inside(dir) {
			return
		}
		seen[dir] = true
		kfile := kustomizationFileIn(dir)
		if kfile == "" {
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				if d.IsDir() {
					if p != dir && kustomizationFileIn(p) != "" {
						walk(p)
						return filepath.SkipDir
					}
					return nil
				}
				if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
					if data, ok := read(p); ok {
						file(p, data)
					}
				}
				return nil
			})
			return
		}
		data, ok := read(kfile)
		if !ok || !file(kfile, data) {
			return
		}
		var k kustypes.Kustomization
		if err := sigsyaml.Unmarshal(data, &k); err != nil {
			return
		}
		kustomization(kfile, data, &k)
		for _, r := range refsOf(&k) {
			if isRemoteFile(r.ref) || r.base && isRemoteBase(r.ref) || filepath.IsAbs(r.ref) {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(r.ref))
			if !inside(p) {
				continue
			}
			st, err := os.Stat(p)
			switch {
			case err != nil:
			case st.IsDir():
				if r.base {
					walk(p)
				}
			case r.yaml:
				if data, ok := read(p); ok {
					file(p, data)
				}
			}
		}
	}
	walk(dir)
}

// kustomizationFileIn returns the kustomization file of dir, or "".
func kustomizationFileIn(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// lineOfText is the 1-based line of the first occurrence of s in data, 0
// when it does not occur as written.
func lineOfText(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}
