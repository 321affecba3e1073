package up

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/publish"
)

// Which environments a change touches.
//
// An environment's build reads its own overlay folder (overlays/<env>/) and
// what its Kustomizations point at in the shared tree (gitops/, charts/ and
// any file under overlays/ outside every environment's folder). Following
// every kustomize reference would repeat the builder, so the rule here is
// conservative instead: every shared file is an input of every environment,
// and another environment's folder is an input only of an environment that
// may reach outside its own folder. Reaching out is detected in the files
// that can hold a reference (YAML and JSON): a "../" in an environment's own
// files, or a path naming overlays/<something else>; a shared file naming
// overlays/ makes every file an input of every environment. The rule can
// only validate too much, never too little.

// treeInputs is one read of the published tree.
type treeInputs struct {
	// tree is the digest of every published file; charts of those under
	// charts/.
	tree, charts string
	// envs maps each environment to the digest of the files it reads.
	envs map[string]string
}

type treeFile struct {
	path string // slash-separated, relative to the repository root
	data []byte
}

// readInputs reads the published tree under root and digests, for each of
// envs, the files that environment's build may read.
func readInputs(root string, envs []string) (*treeInputs, error) {
	var files []treeFile
	for _, d := range manifest.PublishedDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if e.IsDir() {
				if e.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if publish.Ignored(e.Name()) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files = append(files, treeFile{path: filepath.ToSlash(rel), data: data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", d, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })

	everything := false
	reaches := map[string]bool{}
	for _, f := range files {
		if !mayReference(f.path) {
			continue
		}
		owner := ownerOf(f.path, envs)
		for _, target := range referencedOverlays(f.data) {
			if owner == "" {
				everything = true
			} else if target != owner && !strings.HasPrefix(target, owner+"/") {
				reaches[owner] = true
			}
		}
		if owner != "" && strings.Contains(string(f.data), "../") {
			reaches[owner] = true
		}
	}

	in := &treeInputs{envs: map[string]string{}}
	all, charts := sha256.New(), sha256.New()
	sums := map[string]hash.Hash{}
	for _, e := range envs {
		sums[e] = sha256.New()
	}
	for _, f := range files {
		writeFile(all, f)
		if strings.HasPrefix(f.path, "charts/") {
			writeFile(charts, f)
		}
		owner := ownerOf(f.path, envs)
		for _, e := range envs {
			if everything || reaches[e] || owner == "" || underEnv(f.path, e) {
				writeFile(sums[e], f)
			}
		}
	}
	in.tree = "sha256:" + hex.EncodeToString(all.Sum(nil))
	in.charts = "sha256:" + hex.EncodeToString(charts.Sum(nil))
	for e, h := range sums {
		in.envs[e] = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	return in, nil
}

func writeFile(h hash.Hash, f treeFile) {
	fmt.Fprintf(h, "%s\x00%d\x00", f.path, len(f.data))
	_, _ = h.Write(f.data)
}

// ownerOf returns the environment whose folder holds p (the innermost one
// when folders nest), or "" for a shared file.
func ownerOf(p string, envs []string) string {
	owner := ""
	for _, e := range envs {
		if underEnv(p, e) && len(e) > len(owner) {
			owner = e
		}
	}
	return owner
}

func underEnv(p, env string) bool { return strings.HasPrefix(p, "overlays/"+env+"/") }

// mayReference reports whether a file can name other files: kustomize reads
// references from YAML (kustomization.yaml, Flux Kustomizations' spec.path)
// and JSON.
func mayReference(p string) bool {
	switch path.Ext(p) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// referencedOverlays returns the folders under overlays/ that data names
// ("overlays/staging/x.yaml" names "staging/x.yaml").
func referencedOverlays(data []byte) []string {
	var out []string
	s := string(data)
	for {
		i := strings.Index(s, "overlays/")
		if i < 0 {
			return out
		}
		s = s[i+len("overlays/"):]
		end := strings.IndexFunc(s, func(r rune) bool {
			return r == ' ' || r == '\n' || r == '\t' || r == '"' || r == '\'' || r == ')' || r == ','
		})
		if end < 0 {
			end = len(s)
		}
		out = append(out, strings.TrimSuffix(s[:end], "/"))
	}
}
