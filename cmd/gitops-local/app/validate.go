package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/parity"
	"github.com/leynos/gitops-local/bootstrap/validate"
)

type validateOptions struct {
	global     *globalOptions
	target     targetOptions
	repo       string
	chartCache string
	vars       map[string]string
	fixtures   string
	render     renderFlags
}

const validateLong = `Build each environment as 'gitops-local build' does, offline, and check
everything it deploys, without a cluster or the network:

  - every object against its API schema: built-in kinds decoded strictly into
    Kubernetes' Go types, Flux kinds into the pinned Flux types and against
    the Flux CRDs, every other kind against the schema of the CRD the
    environment installs (a kind no CRD serves is a finding);
  - every reference: dependsOn, sourceRef, chartRef, valuesFrom,
    substituteFrom, secretStoreRef, Ingress backends, service accounts,
    namespaces, the references between Flux notification, image and
    source-watcher objects, and the Secrets workloads read (allowed when an
    ExternalSecret or an operator creates them, and always in the local
    environment, where 'gitops-local up' creates the app Secret);
  - no object declared twice, no dependsOn cycle, and no image without a tag
    or digest, or tagged latest, outside the local environment.

Objects that exist in the cluster but not in Git (a Secret made by hand, a
ConfigMap another tool writes) can be given with --fixtures DIR, a folder
of YAML files: references to them resolve, and post-build substitution
reads them.

With no ENV, every environment under overlays/ is validated. In any other
Flux repository, --path names the folder a root Kustomization applies
(repeatable), and --source maps the Flux sources other than the
repository's own to folders:

  gitops-local validate --repo ../fleet --path clusters/staging
  gitops-local validate --path clusters/production \
    --source GitRepository/team-a/team-a=../team-a

 Every problem
is reported, one per line on stdout as "file:line: [env] Kind/ns/name: field:
message"; a summary goes to stderr. With -o json, stdout is one document
{"environments": [...], "findings": [...]}.

Exit codes: 0 nothing found, 1 findings, 2 validation could not run.`

func newValidateCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &validateOptions{global: global}
	cmd := &cobra.Command{
		Use:   "validate [ENV... | --path DIR...]",
		Short: "Check every environment's objects, schemas and references offline",
		Long:  validateLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd, streams, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.repo, "repo", "", repoUsage)
	f.StringVar(&opts.chartCache, "chart-cache", "", "chart cache directory, read offline (default <user cache dir>/gitops-local/charts)")
	opts.target.addFlags(f)
	f.StringToStringVar(&opts.vars, "var", nil, "substitution variable KEY=VALUE overriding the environment's cluster-vars.env (repeatable)")
	f.StringVar(&opts.fixtures, "fixtures", "", "directory of YAML files holding objects that exist in the cluster but not in Git (ConfigMaps and Secrets for post-build substitution, objects references name)")
	opts.render.register(f)
	return cmd
}

func (o *validateOptions) run(cmd *cobra.Command, streams Streams, envs []string) error {
	batchGC()
	limits, err := o.render.limits()
	if err != nil {
		return err
	}
	r, err := o.target.resolve(o.repo, envs, o.global.lookupEnv)
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
	report, _, err := validate.ValidateCached(cmd.Context(), validate.NewChecker, root, targets, opts, r.results())
	if err != nil {
		return fmt.Errorf("validating %s: %w", root, err)
	}
	if o.global.output == OutputJSON {
		if err := writeJSON(streams.Out, "report", report); err != nil {
			return err
		}
	} else {
		for _, f := range report.Findings {
			fmt.Fprintln(streams.Out, f.String())
		}
	}
	if len(o.target.paths) == 0 {
		warnMissingParity(streams, root)
	}
	envList := strings.Join(report.Environments, ", ")
	if report.Clean() {
		fmt.Fprintf(streams.ErrOut, "✔ %s valid (%s)\n", plural(len(report.Environments), "environment"), envList)
		return nil
	}
	fmt.Fprintf(streams.ErrOut, "✗ %s in %s (%s)\n", plural(len(report.Findings), "finding"), plural(len(report.Environments), "environment"), envList)
	return Silent(ExitFindings)
}

// warnMissingParity warns on stderr, without failing, when the repository
// has a local environment but no parity file declaring how it differs from
// the cloud ones.
func warnMissingParity(streams Streams, root string) {
	if _, err := os.Stat(filepath.Join(root, "overlays", parity.LocalEnv)); err != nil {
		return
	}
	if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(parity.File))); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(streams.ErrOut, "! %s is missing: nothing says how %s may differ from the cloud; see gitops-local parity --help\n", parity.File, parity.LocalEnv)
	}
}

// offlineChartCache opens the chart cache in dir (the default cache when
// empty; GITOPS_LOCAL_CHART_CACHE sets --chart-cache) so that it never
// touches the network: a chart missing from it is a build finding.
func offlineChartCache(dir string) (*chartcache.Cache, error) {
	if dir == "" {
		var err error
		if dir, err = chartcache.DefaultDir(func(string) (string, bool) { return "", false }); err != nil {
			return nil, err
		}
	}
	cache, err := chartcache.New(dir, chartcache.WithOffline(true))
	if err != nil {
		return nil, fmt.Errorf("opening the chart cache: %w", err)
	}
	return cache, nil
}

// plural formats a count with its noun: "1 finding", "3 findings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// repoUsage is the --repo flag's help, the same for every command.
const repoUsage = "root of the repository (default: with --path the enclosing git work tree, else the nearest folder holding overlays/)"
