package app

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/resultcache"
)

// targetOptions are the flags that say what build, validate and diff read
// in any Flux repository: --path (a folder a root Kustomization applies)
// and --source (where the other Flux sources' content is).
type targetOptions struct {
	paths   []string
	sources []string
	noCache bool
}

func (t *targetOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&t.paths, "path", nil, "folder of the repository that a root Kustomization applies, e.g. clusters/staging, instead of an environment under overlays/ (any Flux repository)")
	f.StringArrayVar(&t.sources, "source", nil, "KIND/NAMESPACE/NAME=DIR: the folder holding what a Flux source other than the repository's own serves (repeatable; DIR . for this repository)")
	f.BoolVar(&t.noCache, "no-cache", false, "render and post-render every chart again instead of reusing earlier runs' results from the result cache ($"+resultcache.EnvDir+", default <user cache dir>/gitops-local/results)")
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
// the targets, the --source mappings, the repository and the result
// cache. Call close when the command is done with them.
type resolved struct {
	targets []gitops.Target
	sources map[gitops.SourceRef]string
	root    string
	// cache is the result cache, nil with --no-cache (or when disabled,
	// see resultcache.OpenDefault).
	cache *resultcache.Cache
}

// resolve checks the target flags with args (the environments named),
// finds the repository (see repo) given --repo dir and opens the result
// cache named by lookupEnv unless --no-cache.
func (t *targetOptions) resolve(dir string, args []string, lookupEnv func(string) (string, bool)) (resolved, error) {
	var r resolved
	var err error
	if r.targets, err = t.targets(args); err != nil {
		return r, err
	}
	if r.sources, err = t.sourceMap(); err != nil {
		return r, err
	}
	if r.root, err = t.repo(dir); err != nil {
		return r, err
	}
	if !t.noCache {
		getenv := func(k string) string { v, _ := lookupEnv(k); return v }
		if r.cache, err = resultcache.OpenDefault(getenv); err != nil {
			return r, fmt.Errorf("%w (run with --no-cache, or set %s=off)", err, resultcache.EnvDir)
		}
	}
	return r, nil
}

// results is the result cache for gitops.Options.Results: nil, not a nil
// *resultcache.Cache, when there is none.
func (r *resolved) results() render.ResultCache {
	if r.cache == nil {
		return nil
	}
	return r.cache
}

// close trims the result cache (see resultcache.Cache.Trim) and closes it.
// A cache that cannot be trimmed only grows: that is no reason to fail
// the command.
func (r *resolved) close() {
	_ = r.cache.Trim()
	_ = r.cache.Close()
}
