package app

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
)

type buildOptions struct {
	global     *globalOptions
	target     targetOptions
	repo       string
	offline    bool
	chartCache string
	vars       map[string]string
	fixtures   string
	render     renderFlags
}

const buildLong = `Print every object an environment deploys, as Flux would produce them.

Starting at overlays/ENV, each Flux Kustomization is followed inside the
repository and built as kustomize-controller does (its patches,
targetNamespace and namePrefix applied, post-build substitution done with
the variables of overlays/ENV/cluster-vars.env, overridden by --var, and of
the ConfigMaps and Secrets the environment applies or --fixtures gives), and
each HelmRelease is rendered from its chart with its merged values. The
Ghillie chart is read from charts/; the platform charts from the chart cache
(--chart-cache, GITOPS_LOCAL_CHART_CACHE, default <user cache dir>/gitops-local/charts),
which pulls each pinned chart once unless --offline is given.

Objects go to stdout as YAML documents, or with -o json as one v1 List.
Secret values are replaced with "REDACTED". Problems met while building
(malformed YAML, a patch that matches nothing, values the chart's schema
rejects, a reference to a source the environment lacks, a chart missing
from the cache offline) are printed on stderr and the command exits 1
after printing everything it could build.

Environments are the directories under overlays/ holding a cluster-vars.env:
  gitops-local build local
  gitops-local build ephemeral/pr-123 -o json --offline

Any other Flux repository is built from the folder a root Kustomization
applies (--path); the repository's own source is the one the Kustomization
applying that folder reads (flux bootstrap's gotk-sync.yaml), and --source
maps every other source to a folder:
  gitops-local build --repo ../fleet --path clusters/staging

Exit codes: 0 built cleanly, 1 built with findings, 2 could not build.`

func newBuildCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &buildOptions{global: global}
	cmd := &cobra.Command{
		Use:   "build ENV | build --path DIR",
		Short: "Print every object an environment deploys, as Flux would produce them",
		Long:  buildLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(opts.target.paths) > 1 {
				return fmt.Errorf("build takes one --path, got %d", len(opts.target.paths))
			}
			if len(opts.target.paths) == 1 {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			root, err := gitops.FindRepoRoot(opts.repo)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			envs, _ := gitops.Environments(root)
			return envs, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd, streams, args)
		},
	}
	f := cmd.Flags()
	opts.target.addFlags(f)
	f.StringVar(&opts.repo, "repo", "", repoUsage)
	f.BoolVar(&opts.offline, "offline", false, "never touch the network: charts come from the chart cache only")
	f.StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory (default <user cache dir>/gitops-local/charts)")
	f.StringToStringVar(&opts.vars, "var", nil, "substitution variable KEY=VALUE overriding the environment's cluster-vars.env (repeatable)")
	f.StringVar(&opts.fixtures, "fixtures", "", "directory of YAML files holding objects that exist in the cluster but not in Git (ConfigMaps and Secrets for post-build substitution, objects references name)")
	opts.render.register(f)
	return cmd
}

func (o *buildOptions) run(cmd *cobra.Command, streams Streams, args []string) error {
	batchGC()
	ctx := cmd.Context()
	limits, err := o.render.limits()
	if err != nil {
		return err
	}
	r, err := o.target.resolve(o.repo, args, o.global.lookupEnv)
	if err != nil {
		return err
	}
	defer r.close()
	targets, sources, root := r.targets, r.sources, r.root
	target := targets[0]
	dir := o.chartCache
	if dir == "" {
		// GITOPS_LOCAL_CHART_CACHE has already set --chart-cache when given.
		if dir, err = chartcache.DefaultDir(func(string) (string, bool) { return "", false }); err != nil {
			return err
		}
	}
	cache, err := chartcache.New(dir, chartcache.WithOffline(o.offline))
	if err != nil {
		return err
	}
	e, _, err := gitops.BuildTargetCached(ctx, root, target, gitops.Options{Offline: o.offline, ChartCache: cache, Vars: o.vars, Sources: sources, Fixtures: o.fixtures, RenderLimits: limits, Results: r.results()}, r.results())
	if err != nil {
		return fmt.Errorf("build %s: %w", target.Name(), err)
	}
	objs := make([]map[string]any, 0, len(e.Objects))
	rendered := 0
	for _, obj := range e.Objects {
		objs = append(objs, redactSecret(obj.Unstructured).Object)
		if obj.Origin.HelmRelease != "" {
			rendered++
		}
	}
	if err := writeObjects(streams.Out, o.global.output, objs); err != nil {
		return fmt.Errorf("writing objects: %w", err)
	}
	for _, f := range e.Findings {
		fmt.Fprintln(streams.ErrOut, f.String())
	}
	summary := fmt.Sprintf("%s: %d objects, %d rendered from charts", e.Name, len(e.Objects), rendered)
	if len(e.Findings) > 0 {
		fmt.Fprintf(streams.ErrOut, "✗ %s, %d findings\n", summary, len(e.Findings))
		return Silent(ExitFindings)
	}
	fmt.Fprintf(streams.ErrOut, "✔ %s\n", summary)
	return nil
}

// writeObjects prints objects as YAML documents, or as one JSON v1 List.
func writeObjects(w io.Writer, output string, objs []map[string]any) error {
	if output == OutputJSON {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// redactSecret returns a copy of a Secret with every value of data and
// stringData replaced; any other object is returned as is.
func redactSecret(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u
	}
	c := u.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok, _ := unstructured.NestedMap(c.Object, field)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = "REDACTED"
		}
		_ = unstructured.SetNestedMap(c.Object, m, field)
	}
	return c
}
