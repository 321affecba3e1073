package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/diff"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// validateArgs is how to name t to gitops-local validate.
func validateArgs(t gitops.Target) string {
	if t.Path != "" {
		return "--path " + t.Path
	}
	return t.Env
}

type diffOptions struct {
	global     *globalOptions
	target     targetOptions
	repo       string
	base       string
	chartCache string
	vars       map[string]string
	fixtures   string
	render     renderFlags
}

const diffLong = `Compare what two environments deploy, object by object, charts rendered:
the parity report between the local environment and a cloud one.

  gitops-local diff local ephemeral/pr-123
  gitops-local diff staging --base main
  gitops-local diff --path clusters/staging --path clusters/production
  gitops-local diff --path clusters/staging --base main

Objects are matched by API group, kind and name; namespaces are ignored, as
environments put the application in different ones. The report lists the
objects only one side has, and for each object both have and that differs, a
unified diff of its YAML (metadata.namespace left out). With --base REF, the
environment as committed at REF is compared with the working tree; the
checkout is not touched.

Both sides are built offline. With -o json, stdout is one document
{"a", "b", "differences": [{"object", "status", "a", "b", "fields",
"unified"}]}.

Exit codes: 0 no differences, 1 differences, 2 the comparison could not run.`

func newDiffCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &diffOptions{global: global}
	cmd := &cobra.Command{
		Use:   "diff A B | diff ENV --base REF | diff --path A [--path B]",
		Short: "Show which objects differ between two environments, or one environment at two commits",
		Long:  diffLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := len(opts.target.paths); n > 0 {
				if len(args) > 0 {
					return fmt.Errorf("give environments or --path, not both")
				}
				if want := map[bool]int{true: 1, false: 2}[opts.base != ""]; n != want {
					return fmt.Errorf("diff takes two --path (or one with --base REF), got %d", n)
				}
				return nil
			}
			if opts.base != "" && len(args) != 1 {
				return fmt.Errorf("diff --base takes one environment, got %d arguments", len(args))
			}
			if opts.base == "" && len(args) != 2 {
				return fmt.Errorf("diff takes two environments (or one with --base REF), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), streams, args)
		},
	}
	cmd.Flags().StringVar(&opts.repo, "repo", "", repoUsage)
	opts.target.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.base, "base", "", "git ref to compare the environment with (a branch, tag or commit)")
	cmd.Flags().StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory, read offline (default <user cache dir>/gitops-local/charts)")
	cmd.Flags().StringToStringVar(&opts.vars, "var", nil, "substitution variable KEY=VALUE overriding the environments' cluster-vars.env (repeatable)")
	cmd.Flags().StringVar(&opts.fixtures, "fixtures", "", "directory of YAML files holding objects that exist in the cluster but not in Git (ConfigMaps and Secrets for post-build substitution, objects references name)")
	opts.render.register(cmd.Flags())
	return cmd
}

func (o *diffOptions) run(ctx context.Context, streams Streams, args []string) (err error) {
	batchGC()
	targets, err := o.target.targets(args)
	if err != nil {
		return err
	}
	sources, err := o.target.sourceMap()
	if err != nil {
		return err
	}
	limits, err := o.render.limits()
	if err != nil {
		return err
	}
	root, err := o.target.repo(o.repo)
	if err != nil {
		return err
	}
	cache, err := offlineChartCache(o.chartCache)
	if err != nil {
		return err
	}
	type side struct {
		label, repo string
		target      gitops.Target
	}
	var a, b side
	if o.base != "" {
		var paths []string // a path target reads the whole tree
		if targets[0].Env != "" {
			paths = manifest.PublishedDirs
		}
		dir, cleanup, err := diff.Materialize(ctx, root, o.base, paths)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := cleanup(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the tree of %s: %w", o.base, cerr))
			}
		}()
		name := targets[0].Name()
		a = side{label: name + "@" + o.base, repo: dir, target: targets[0]}
		b = side{label: name, repo: root, target: targets[0]}
	} else {
		a = side{label: targets[0].Name(), repo: root, target: targets[0]}
		b = side{label: targets[1].Name(), repo: root, target: targets[1]}
	}
	var built [2]*gitops.Environment
	for i, s := range []side{a, b} {
		env, err := gitops.BuildTarget(ctx, s.repo, s.target, gitops.Options{Offline: true, ChartCache: cache, Vars: o.vars, Sources: sources, Fixtures: o.fixtures, RenderLimits: limits})
		if err != nil {
			return fmt.Errorf("building %s: %w", s.label, err)
		}
		if n := len(env.Findings); n > 0 {
			fmt.Fprintf(streams.ErrOut, "! %s has %s; run gitops-local validate %s\n", s.label, plural(n, "build finding"), validateArgs(s.target))
		}
		built[i] = env
	}
	report, err := diff.Compare(a.label, built[0].Objects, b.label, built[1].Objects)
	if err != nil {
		return err
	}
	if o.global.output == OutputJSON {
		if err := writeJSON(streams.Out, "report", report); err != nil {
			return err
		}
	} else {
		fmt.Fprint(streams.Out, report.Text())
	}
	if report.Equal() {
		fmt.Fprintf(streams.ErrOut, "✔ %s and %s deploy the same objects\n", a.label, b.label)
		return nil
	}
	verb := "objects differ"
	if len(report.Differences) == 1 {
		verb = "object differs"
	}
	fmt.Fprintf(streams.ErrOut, "✗ %d %s between %s and %s\n", len(report.Differences), verb, a.label, b.label)
	return Silent(ExitFindings)
}
