package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/parity"
)

// defaultParityEnv is the cloud environment parity compares local with
// when none is named.
const defaultParityEnv = "ephemeral/pr-123"

type parityOptions struct {
	global     *globalOptions
	repo       string
	chartCache string
	fixtures   string
	render     renderFlags
}

const parityLong = `Check that local differs from a cloud environment (default ` + defaultParityEnv + `)
only as ` + parity.File + ` declares.

The file lists, per cloud environment, every intended difference as
patterns over the objects' kind, name, owner and field ("*" matches any run
of characters):

  apiVersion: ` + parity.APIVersion + `
  kind: ` + parity.Kind + `
  environments:
    - name: ephemeral/pr-123
      differences:
        - reason: platform services local leaves out
          only: cloud
          owner: Kustomization/flux-system/platform-traefik
        - reason: the image local builds
          kind: HelmRelease
          name: ghillie
          field: spec.values.image.*

A declaration with "only: local" or "only: cloud" covers whole objects one
side deploys; one without covers the matching fields of objects both
deploy. Owner is Kustomization/NAMESPACE/NAME of the Flux Kustomization
that applies the object, or HelmRelease/NAMESPACE/NAME of the release that
renders it.

Both environments are built offline. Every difference no declaration
matches is printed (drift), and so is every declaration that matches
nothing (stale: remove it). With -o json, stdout is one document
{"local", "cloud", "intended", "undeclared", "stale"}.

Exit codes: 0 the contract holds, 1 drift or stale declarations, 2 the check
could not run (a parity file with an unknown field or a bad pattern among
them).`

func newParityCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &parityOptions{global: global}
	cmd := &cobra.Command{
		Use:   "parity [ENV]",
		Short: "Check that local differs from a cloud environment only as " + parity.File + " declares",
		Long:  parityLong,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env := defaultParityEnv
			if len(args) == 1 {
				env = args[0]
			}
			return opts.run(cmd.Context(), streams, env)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.repo, "repo", "", repoUsage)
	f.StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory, read offline (default <user cache dir>/gitops-local/charts)")
	f.StringVar(&opts.fixtures, "fixtures", "", "directory of YAML files holding objects that exist in the cluster but not in Git (ConfigMaps and Secrets for post-build substitution, objects references name)")
	opts.render.register(f)
	return cmd
}

func (o *parityOptions) run(ctx context.Context, streams Streams, env string) (err error) {
	batchGC()
	if env == parity.LocalEnv {
		return fmt.Errorf("parity compares %s with a cloud environment: name one, e.g. %s", parity.LocalEnv, defaultParityEnv)
	}
	root, err := gitops.FindRepoRoot(o.repo)
	if err != nil {
		return err
	}
	contract, err := parity.Load(root)
	if err != nil {
		return err
	}
	decls, err := contract.For(env)
	if err != nil {
		return err
	}
	limits, err := o.render.limits()
	if err != nil {
		return err
	}
	cache, err := offlineChartCache(o.chartCache)
	if err != nil {
		return err
	}
	opts := gitops.Options{Offline: true, ChartCache: cache, Fixtures: o.fixtures, RenderLimits: limits, Renders: gitops.NewRenderCache()}
	defer func() {
		if cerr := opts.Renders.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the working copies: %w", cerr))
		}
	}()
	report, err := compareSides(ctx, streams, comparison{
		a: builtSide{label: parity.LocalEnv, repo: root, target: gitops.Target{Env: parity.LocalEnv}},
		b: builtSide{label: env, repo: root, target: gitops.Target{Env: env}},
	}, opts)
	if err != nil {
		return err
	}
	res := parity.Check(decls, report)
	if o.global.output == OutputJSON {
		if err := writeJSON(streams.Out, "parity result", res); err != nil {
			return err
		}
	} else {
		fmt.Fprint(streams.Out, res.Text())
	}
	if res.OK() {
		fmt.Fprintf(streams.ErrOut, "✔ %s differs from %s only as %s declares (%s)\n", parity.LocalEnv, env, parity.File, plural(len(res.Intended), "declaration"))
		return nil
	}
	fmt.Fprintf(streams.ErrOut, "✗ %s and %s between %s and %s\n", plural(len(res.Undeclared), "undeclared difference"), plural(len(res.Stale), "stale declaration"), parity.LocalEnv, env)
	return Silent(ExitFindings)
}

// builtSide is one side of a comparison: what to build, from which tree,
// and how to name it.
type builtSide struct {
	label, repo string
	target      gitops.Target
}

// buildSide builds one side offline, warning on stderr about build
// findings.
func buildSide(ctx context.Context, streams Streams, s builtSide, opts gitops.Options) (*gitops.Environment, error) {
	env, err := gitops.BuildTarget(ctx, s.repo, s.target, opts)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", s.label, err)
	}
	if n := len(env.Findings); n > 0 {
		fmt.Fprintf(streams.ErrOut, "! %s has %s; run gitops-local validate %s\n", s.label, plural(n, "build finding"), validateArgs(s.target))
	}
	return env, nil
}
