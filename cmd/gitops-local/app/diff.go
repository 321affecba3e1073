package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/diff"
	"github.com/leynos/gitops-local/bootstrap/gitops"
)

type diffOptions struct {
	global     *globalOptions
	repo       string
	base       string
	chartCache string
	vars       map[string]string
	render     renderFlags
}

const diffLong = `Compare what two environments deploy, object by object, charts rendered:
the parity report between the local environment and a cloud one.

  gitops-local diff local ephemeral/pr-123
  gitops-local diff staging --base main

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
		Use:   "diff A B | diff ENV --base REF",
		Short: "Show which objects differ between two environments, or one environment at two commits",
		Long:  diffLong,
		Args: func(cmd *cobra.Command, args []string) error {
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
	cmd.Flags().StringVar(&opts.repo, "repo", "", "root of the repository holding gitops/, overlays/ and charts/ (default: the enclosing git work tree, else the current directory)")
	cmd.Flags().StringVar(&opts.base, "base", "", "git ref to compare the environment with (a branch, tag or commit)")
	cmd.Flags().StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory, read offline (default <user cache dir>/gitops-local/charts)")
	cmd.Flags().StringToStringVar(&opts.vars, "var", nil, "substitution variable KEY=VALUE overriding the environments' cluster-vars.env (repeatable)")
	opts.render.register(cmd.Flags())
	return cmd
}

func (o *diffOptions) run(ctx context.Context, streams Streams, args []string) (err error) {
	batchGC()
	limits, err := o.render.limits()
	if err != nil {
		return err
	}
	root, err := findRepoRoot(ctx, o.repo)
	if err != nil {
		return err
	}
	cache, err := offlineChartCache(o.chartCache)
	if err != nil {
		return err
	}
	type side struct{ label, repo, env string }
	var a, b side
	if o.base != "" {
		dir, cleanup, err := diff.Materialize(ctx, root, o.base)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := cleanup(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the tree of %s: %w", o.base, cerr))
			}
		}()
		a = side{label: args[0] + "@" + o.base, repo: dir, env: args[0]}
		b = side{label: args[0], repo: root, env: args[0]}
	} else {
		a = side{label: args[0], repo: root, env: args[0]}
		b = side{label: args[1], repo: root, env: args[1]}
	}
	var built [2]*gitops.Environment
	for i, s := range []side{a, b} {
		env, err := gitops.Build(ctx, s.repo, s.env, gitops.Options{Offline: true, ChartCache: cache, Vars: o.vars, RenderLimits: limits})
		if err != nil {
			return fmt.Errorf("building %s: %w", s.label, err)
		}
		if n := len(env.Findings); n > 0 {
			fmt.Fprintf(streams.ErrOut, "! %s has %s; run gitops-local validate %s\n", s.label, plural(n, "build finding"), s.env)
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
