package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Target is where a build starts: what one root Kustomization applies.
type Target struct {
	// Env is an environment of this repository's own layout: the folder
	// overlays/<Env> holding a cluster-vars.env, applied by the root
	// Kustomization up creates, from the OCIRepository it pushes.
	Env string
	// Path is a folder of any Flux repository that a root Kustomization
	// applies (clusters/staging in a flux bootstrap repository), relative
	// to the repository. The repository's own source is found from the
	// Kustomization in the tree that applies Path itself; other sources
	// come from Options.Sources.
	Path string
}

// Name is how reports name the target: the environment, or the path.
func (t Target) Name() string {
	if t.Path != "" {
		return t.Path
	}
	return t.Env
}

// rootPath is the root Kustomization's spec.path for a path target.
func (t Target) rootPath() string { return "./" + t.Path }

// resolve checks t against the repository and returns it normalised:
// an environment that exists, or a path that is a folder inside the
// repository.
func (t Target) resolve(repoRoot string, opts Options) (Target, error) {
	if (t.Env == "") == (t.Path == "") {
		return t, fmt.Errorf("give an environment or a path to build, not both or neither")
	}
	if t.Env != "" {
		envs, err := Environments(repoRoot)
		if err != nil {
			return t, err
		}
		env := strings.Trim(filepath.ToSlash(t.Env), "/")
		env = strings.TrimPrefix(env, OverlaysDir+"/")
		if !slices.Contains(envs, env) {
			return t, fmt.Errorf("unknown environment %q: want one of %s (directories under %s/ holding a %s)",
				env, strings.Join(envs, ", "), OverlaysDir, VarsFile)
		}
		return Target{Env: env}, nil
	}
	if len(opts.Vars) > 0 {
		return t, fmt.Errorf("--var sets the cluster variables of an environment under %s/; a path reads its variables from the ConfigMaps and Secrets its Kustomizations substitute from", OverlaysDir)
	}
	p, err := RepoPath(repoRoot, t.Path)
	if err != nil {
		return t, err
	}
	if p == "." {
		return t, fmt.Errorf("path %q is the repository itself: give the folder a root Kustomization applies, e.g. clusters/staging", t.Path)
	}
	return Target{Path: p}, nil
}

// RepoPath checks that p, relative to the repository at repoRoot (or
// absolute, inside it), names a folder inside the repository, and returns
// it relative to the repository with slashes.
func RepoPath(repoRoot, p string) (string, error) {
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(repoRoot, filepath.FromSlash(p))
	}
	rel, err := filepath.Rel(repoRoot, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q is outside the repository %s", p, repoRoot)
	}
	// A link may lead outside: resolve it and check again.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("path %q: no such folder in the repository %s", p, repoRoot)
	}
	realRoot, err := filepath.EvalSymlinks(repoRoot)
	if err != nil {
		return "", err
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q leads outside the repository %s", p, repoRoot)
	}
	if st, err := os.Stat(real); err != nil || !st.IsDir() {
		return "", fmt.Errorf("path %q is not a folder of the repository %s", p, repoRoot)
	}
	return filepath.ToSlash(rel), nil
}

// FindRepo returns the repository a path target is read from: dir when
// given (it must be a folder), else the nearest folder at or above the
// current one holding .git, else the current folder.
func FindRepo(dir string) (string, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("repository %q: %w", dir, err)
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return "", fmt.Errorf("repository %q is not a folder", dir)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return wd, nil
		}
	}
}
