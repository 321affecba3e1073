package app

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/leynos/gitops-local/bootstrap/gitops"
)

// targetOptions are the flags that say what build, validate and diff read
// in any Flux repository: --path (a folder a root Kustomization applies)
// and --source (where the other Flux sources' content is).
type targetOptions struct {
	paths   []string
	sources []string
}

func (t *targetOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&t.paths, "path", nil, "folder of the repository that a root Kustomization applies, e.g. clusters/staging, instead of an environment under overlays/ (any Flux repository)")
	f.StringArrayVar(&t.sources, "source", nil, "KIND/NAMESPACE/NAME=DIR: the folder holding what a Flux source other than the repository's own serves (repeatable; DIR . for this repository)")
}

// repo finds the repository: with --path any folder (--repo, else the
// enclosing git work tree, else the current folder), else one holding
// overlays/.
func (t *targetOptions) repo(dir string) (string, error) {
	if len(t.paths) > 0 {
		return gitops.FindRepo(dir)
	}
	return gitops.FindRepoRoot(dir)
}

// sourceMap parses --source, refusing a folder that does not exist and a
// source mapped twice.
func (t *targetOptions) sourceMap() (map[gitops.SourceRef]string, error) {
	if len(t.sources) == 0 {
		return nil, nil
	}
	out := map[gitops.SourceRef]string{}
	for _, s := range t.sources {
		ref, dir, err := gitops.ParseSource(s)
		if err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--source %s: folder %s does not exist", ref, dir)
		}
		if prev, ok := out[ref]; ok && prev != dir {
			return nil, fmt.Errorf("--source: %s is mapped twice, to %s and %s", ref, prev, dir)
		}
		out[ref] = dir
	}
	return out, nil
}

// targets returns what to build: the --path folders, or the environments
// named (all of them when none is, and there is no --path).
func (t *targetOptions) targets(envs []string) ([]gitops.Target, error) {
	if len(t.paths) > 0 && len(envs) > 0 {
		return nil, fmt.Errorf("give environments or --path, not both")
	}
	var out []gitops.Target
	for _, p := range t.paths {
		out = append(out, gitops.Target{Path: p})
	}
	for _, e := range envs {
		out = append(out, gitops.Target{Env: e})
	}
	return out, nil
}

// resolved is what the target flags and arguments of one command name:
// the targets, the --source mappings and the repository.
type resolved struct {
	targets []gitops.Target
	sources map[gitops.SourceRef]string
	root    string
}

// resolve checks the target flags with args (the environments named) and
// finds the repository (see repo) given --repo dir.
func (t *targetOptions) resolve(dir string, args []string) (resolved, error) {
	var r resolved
	var err error
	if r.targets, err = t.targets(args); err != nil {
		return r, err
	}
	if r.sources, err = t.sourceMap(); err != nil {
		return r, err
	}
	r.root, err = t.repo(dir)
	return r, err
}
