package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/leynos/gitops-local/bootstrap/diff"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/parity"
)

// OutputMarkdown is the -o value of diff's pull-request comment.
const OutputMarkdown = "markdown"

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
	full       bool
	mdLimit    int
	// allEnvs is set when --base compares every environment.
	allEnvs bool
}

const diffLong = `Compare what two environments deploy, object by object, charts rendered:
the parity report between the local environment and a cloud one, or the
review of a change.

  gitops-local diff local ephemeral/pr-123
  gitops-local diff --base main              # every environment
  gitops-local diff staging --base main
  gitops-local diff --path clusters/staging --path clusters/production
  gitops-local diff --path clusters/staging --base main

Objects are matched by API group, kind and name; namespaces are ignored, as
environments put the application in different ones. The report is grouped
by the Flux Kustomization (and HelmRelease) that applies each object:
objects added (+), removed (-) and changed (~) with the fields that change,
and the container images that change (old → new). Secret values are never
shown.

Comparing local with a cloud environment, the differences that
` + parity.File + ` declares are named as intended and summarised by reason
(--full shows them too); see gitops-local parity.

With --base REF, the environment as committed at REF is compared with the
working tree (every environment when none is named); the checkout is not
touched. Changes Kubernetes refuses in place (selectors, StatefulSet
volumeClaimTemplates, Job templates, a PVC's storage class or a smaller
size, a Service's clusterIP) and deletions that lose data (PVCs,
CloudNativePG Clusters, Valkeys, Namespaces, CRDs under prune: true) are
marked ⚠.

Output: text (coloured on a terminal; NO_COLOR turns colour off), -o json,
or -o markdown for a pull-request comment (a summary table, then one
collapsible section per environment, at most --markdown-limit characters,
with a note saying what was cut).

-o json is one report {"a", "b", "differences": [...]}, or with --base and
no environment {"base", "reports": [report...]}. Each difference is
{"object", "group", "kind", "name", "status" (only-in-a, only-in-b,
changed), "a"/"b" ({"namespace", "file", "line", "kustomization",
"helmRelease"}), "fields" ([{"path", "from", "to"}]), "unified",
"warnings" ([{"field", "message"}]), "intended" (the reason the parity
file gives for an object only one side has), "intendedFields" (per field,
the reason or "")}; a report annotated from the parity file also has
"reasons" (its reasons, in its order). Fields are only ever added to this
format.

Exit codes: 0 no differences, 1 differences, 2 the comparison could not run
(a base ref that does not exist or is beyond a shallow clone among them).`

func newDiffCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &diffOptions{global: global}
	cmd := &cobra.Command{
		Use:   "diff A B | diff [ENV] --base REF | diff --path A [--path B]",
		Short: "Show which objects differ between two environments, or environments at two commits",
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
			if opts.base != "" && len(args) > 1 {
				return fmt.Errorf("diff --base takes at most one environment (none: every environment), got %d arguments", len(args))
			}
			if opts.base == "" && len(args) != 2 {
				return fmt.Errorf("diff takes two environments (or one, or none, with --base REF), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), streams, args)
		},
	}
	cmd.Flags().StringVar(&opts.repo, "repo", "", repoUsage)
	opts.target.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.base, "base", "", "git ref to compare with (a branch, tag or commit); without ENV, every environment")
	cmd.Flags().StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory, read offline (default <user cache dir>/gitops-local/charts)")
	cmd.Flags().StringToStringVar(&opts.vars, "var", nil, "substitution variable KEY=VALUE overriding the environments' cluster-vars.env (repeatable)")
	cmd.Flags().StringVar(&opts.fixtures, "fixtures", "", "directory of YAML files holding objects that exist in the cluster but not in Git (ConfigMaps and Secrets for post-build substitution, objects references name)")
	cmd.Flags().BoolVar(&opts.full, "full", false, "also list the differences the parity file declares, not only their summary")
	cmd.Flags().IntVar(&opts.mdLimit, "markdown-limit", diff.DefaultMarkdownLimit, "most characters -o markdown writes")
	opts.render.register(cmd.Flags())
	return cmd
}

// comparison is two sides to build and compare; a side whose tree lacks
// the environment deploys nothing.
type comparison struct {
	a, b builtSide
}

func (o *diffOptions) run(ctx context.Context, streams Streams, args []string) (err error) {
	batchGC()
	if o.mdLimit < 1000 {
		return fmt.Errorf("--markdown-limit %d: want at least 1000", o.mdLimit)
	}
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
	cache, err := offlineChartCache(o.chartCache)
	if err != nil {
		return err
	}
	opts := gitops.Options{Offline: true, ChartCache: cache, Vars: o.vars, Sources: sources, Fixtures: o.fixtures, RenderLimits: limits, Results: r.results()}

	var comparisons []comparison
	if o.base != "" {
		var paths []string // a path target reads the whole tree
		if len(o.target.paths) == 0 {
			paths = manifest.PublishedDirs
		}
		dir, cleanup, err := diff.Materialize(ctx, root, o.base, paths)
		if err != nil {
			return fmt.Errorf("diff --base %s: %w", o.base, err)
		}
		defer func() {
			if cerr := cleanup(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the tree of %s: %w", o.base, cerr))
			}
		}()
		if len(targets) == 0 {
			o.allEnvs = true
			if targets, err = everyEnvironment(root, dir); err != nil {
				return err
			}
		}
		for _, t := range targets {
			comparisons = append(comparisons, comparison{
				a: builtSide{label: t.Name() + "@" + o.base, repo: dir, target: t},
				b: builtSide{label: t.Name(), repo: root, target: t},
			})
		}
	} else {
		comparisons = []comparison{{
			a: builtSide{label: targets[0].Name(), repo: root, target: targets[0]},
			b: builtSide{label: targets[1].Name(), repo: root, target: targets[1]},
		}}
	}

	// The builds share one render cache, so the renders both sides have in
	// common (every chart a one-line change leaves alone) are done once,
	// and run side by side, one per core, as validate's do.
	opts.Renders = gitops.NewRenderCache()
	defer func() {
		if cerr := opts.Renders.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the working copies: %w", cerr))
		}
	}()
	var compareOpts []diff.Option
	if o.base != "" {
		compareOpts = append(compareOpts, diff.Revisions())
	}
	reports, err := compareAll(ctx, streams, comparisons, opts, compareOpts...)
	if err != nil {
		return err
	}
	var textOpts diff.TextOptions
	if o.base == "" && len(o.target.paths) == 0 && targets[0].Env == parity.LocalEnv {
		if textOpts, err = annotateIntended(root, targets[1].Env, reports[0]); err != nil {
			return err
		}
	}
	textOpts.Full = o.full
	if err := o.write(streams, reports, textOpts); err != nil {
		return err
	}

	differ := 0
	for _, r := range reports {
		if !r.Equal() {
			differ++
		}
	}
	if differ == 0 {
		fmt.Fprintf(streams.ErrOut, "✔ no differences (%s)\n", plural(len(reports), "comparison"))
		return nil
	}
	fmt.Fprintf(streams.ErrOut, "✗ differences in %d of %s\n", differ, plural(len(reports), "comparison"))
	return Silent(ExitFindings)
}

func (o *diffOptions) write(streams Streams, reports []*diff.Report, textOpts diff.TextOptions) error {
	switch o.global.output {
	case OutputJSON:
		if o.allEnvs {
			return writeJSON(streams.Out, "report", struct {
				Base    string         `json:"base"`
				Reports []*diff.Report `json:"reports"`
			}{o.base, reports})
		}
		return writeJSON(streams.Out, "report", reports[0])
	case OutputMarkdown:
		see := "gitops-local diff --base " + o.base
		title := "gitops-local diff --base " + o.base
		if o.base == "" {
			see = "gitops-local diff " + reports[0].A + " " + reports[0].B
			title = "gitops-local diff " + reports[0].A + " " + reports[0].B
		}
		_, err := io.WriteString(streams.Out, diff.Markdown(title, reports, o.mdLimit, see))
		return err
	}
	out, paint := terminal(streams.Out)
	for i, r := range reports {
		if i > 0 {
			if err := paint(out, diff.Plain, ""); err != nil {
				return err
			}
		}
		if err := r.WriteText(out, paint, textOpts); err != nil {
			return err
		}
	}
	return nil
}

// terminal returns where to write text and how: in colour straight to a
// terminal (the painter escapes the text itself), else plainly through w.
func terminal(w io.Writer) (io.Writer, diff.Painter) {
	raw := w
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		raw = u.Unwrap()
	}
	f, ok := raw.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || os.Getenv("NO_COLOR") != "" {
		return w, diff.PlainText
	}
	return raw, diff.Colour
}

// everyEnvironment is every environment of either tree, sorted: one only
// the base has was removed, one only the working tree has was added.
func everyEnvironment(root, base string) ([]gitops.Target, error) {
	seen := map[string]bool{}
	for _, dir := range []string{root, base} {
		envs, err := gitops.Environments(dir)
		if err != nil && !errors.Is(err, gitops.ErrNoEnvironments) {
			return nil, err
		}
		for _, e := range envs {
			seen[e] = true
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("no environments under overlays/ in the working tree or at the base")
	}
	names := make([]string, 0, len(seen))
	for e := range seen {
		names = append(names, e)
	}
	sort.Strings(names)
	out := make([]gitops.Target, len(names))
	for i, e := range names {
		out[i] = gitops.Target{Env: e}
	}
	return out, nil
}

// compareSides builds both sides of c and compares them; an environment
// one tree lacks deploys nothing there.
func compareSides(ctx context.Context, streams Streams, c comparison, opts gitops.Options, compareOpts ...diff.Option) (*diff.Report, error) {
	reports, err := compareAll(ctx, streams, []comparison{c}, opts, compareOpts...)
	if err != nil {
		return nil, err
	}
	return reports[0], nil
}

// compareAll builds both sides of every comparison, side by side (one
// build per core), and compares each pair; an environment one tree of a
// --base comparison lacks deploys nothing there.
func compareAll(ctx context.Context, streams Streams, cs []comparison, opts gitops.Options, compareOpts ...diff.Option) ([]*diff.Report, error) {
	objs := make([][2][]manifest.Object, len(cs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, c := range cs {
		for j, s := range []builtSide{c.a, c.b} {
			if s.target.Env != "" && c.a.repo != c.b.repo {
				if _, err := os.Stat(filepath.Join(s.repo, gitops.OverlaysDir, filepath.FromSlash(s.target.Env))); errors.Is(err, fs.ErrNotExist) {
					continue
				}
			}
			g.Go(func() error {
				env, err := buildSide(gctx, streams, s, opts)
				if err != nil {
					return err
				}
				objs[i][j] = env.Objects
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reports := make([]*diff.Report, len(cs))
	for i, c := range cs {
		r, err := diff.Compare(c.a.label, objs[i][0], c.b.label, objs[i][1], compareOpts...)
		if err != nil {
			return nil, err
		}
		reports[i] = r
	}
	return reports, nil
}

// annotateIntended names in r (local against env) the differences the
// parity file declares, and returns how to present them; nothing when the
// repository has no parity file or the file says nothing of env.
func annotateIntended(root, env string, r *diff.Report) (diff.TextOptions, error) {
	contract, err := parity.Load(root)
	if errors.Is(err, fs.ErrNotExist) {
		return diff.TextOptions{}, nil
	}
	if err != nil {
		return diff.TextOptions{}, err
	}
	decls, err := contract.For(env)
	if err != nil {
		return diff.TextOptions{}, nil
	}
	parity.Annotate(decls, r)
	return diff.TextOptions{Contract: parity.File}, nil
}
