package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
)

type upOptions struct {
	global            *globalOptions
	repo              string
	registry          string
	registryInCluster string
	url               string
	timeout           time.Duration
	offline           bool
}

const upLong = `Turn a cluster into the local preview, the same GitOps deployment the
cloud's ephemeral previews run:

  1. install Flux at the pinned versions (from manifests built into the tool);
  2. push the platform charts (from the local chart cache), charts/ghillie and
     this repository's gitops/, overlays/ and charts/ to the cluster's registry,
     skipping what the registry already holds;
  3. point Flux at them: the cluster-vars ConfigMap, the OCIRepository and the
     root Kustomization for overlays/local, and ask Flux to reconcile now;
  4. create the Secret ghillie (DATABASE_URL, GHILLIE_DATABASE_URL, VALKEY_URL)
     as soon as CloudNativePG and valkey-operator have made theirs;
  5. wait until every Kustomization and HelmRelease has applied what was
     pushed, following dependsOn, and stop at the first failure;
  6. print the preview URL and the app's /health and /ready answers.

Every step is idempotent: run up again after a change, a failure or Ctrl-C.
This version drives an existing cluster given with --kubeconfig, whose
registry is given with --registry.`

func newUpCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &upOptions{global: global}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Deploy the local preview with Flux and wait until it is Ready",
		Long:  upLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams, up.Run)
		},
	}
	opts.flags(cmd)
	return cmd
}

// runner is up.Run or up.Sync.
type runner func(context.Context, *progress.Reporter, up.Options) (*up.Summary, error)

const syncLong = `One round of the inner loop on a cluster 'gitops-local up' has prepared:
validate every environment offline (as 'gitops-local validate' does) and
refuse an invalid change before anything is pushed, naming the environment,
file, object and field; push what changed; ask Flux to reconcile at once;
and wait, revision-aware, until everything has applied it, reporting on
stderr the objects each Kustomization created, configured and deleted, and
each new Helm release.

Exit codes: 0 applied and Ready, 2 refused, failed or timed out.`

func newSyncCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &upOptions{global: global}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Validate, push and reconcile local changes once, and wait until they are applied",
		Long:  syncLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams, up.Sync)
		},
	}
	opts.flags(cmd)
	return cmd
}

func (o *upOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "root of the repository holding gitops/, overlays/ and charts/ (default: the enclosing git work tree)")
	f.StringVar(&o.registry, "registry", "", "the cluster's OCI registry as this machine reaches it (host:port, plain HTTP)")
	f.StringVar(&o.registryInCluster, "registry-in-cluster", "", "the same registry as the cluster reaches it (default: --registry)")
	f.StringVar(&o.url, "url", "", "the preview's address through the cluster's ingress, e.g. http://127.0.0.1:8080/")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to wait for everything to be Ready")
	f.BoolVar(&o.offline, "offline", false, "never pull charts: use only the local chart cache")
}

func (o *upOptions) run(cmd *cobra.Command, streams Streams, do runner) error {
	opts, err := o.prepare(cmd.Context())
	if err != nil {
		return err
	}
	return o.execute(cmd.Context(), streams, opts, do)
}

// prepare checks the flags and reads the kubeconfig and chart cache: the
// part of a run that no change to the repository can fix.
func (o *upOptions) prepare(ctx context.Context) (up.Options, error) {
	if o.global.kubeconfig == "" {
		return up.Options{}, errors.New("no cluster given: pass --kubeconfig (or GITOPS_LOCAL_KUBECONFIG) and --registry for an existing cluster")
	}
	if o.registry == "" {
		return up.Options{}, errors.New("no registry given: pass --registry host:port, the registry the cluster pulls from")
	}
	if o.timeout <= 0 {
		return up.Options{}, fmt.Errorf("invalid --timeout %s: must be positive", o.timeout)
	}
	root, err := findRepoRoot(ctx, o.repo)
	if err != nil {
		return up.Options{}, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.global.kubeconfig)
	if err != nil {
		return up.Options{}, fmt.Errorf("reading kubeconfig %s: %w", o.global.kubeconfig, err)
	}
	dir, err := chartcache.DefaultDir(o.global.lookupEnv)
	if err != nil {
		return up.Options{}, err
	}
	cache, err := chartcache.New(dir, chartcache.WithOffline(o.offline))
	if err != nil {
		return up.Options{}, err
	}
	return up.Options{
		RepoRoot:     root,
		Config:       cfg,
		RegistryPush: o.registry,
		RegistryPull: o.registryInCluster,
		Charts:       cache,
		Timeout:      o.timeout,
		URL:          o.url,
	}, nil
}

// execute runs up or sync and prints the outcome.
func (o *upOptions) execute(ctx context.Context, streams Streams, opts up.Options, do runner) error {
	rep := progress.New(streams.ErrOut, o.global.verbose)
	opts.Log = rep
	sum, runErr := do(ctx, rep, opts)
	if o.global.output == OutputJSON && sum != nil {
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
	} else if runErr == nil {
		if sum.URL != "" {
			fmt.Fprintf(streams.Out, "%s\n", sum.URL)
			for _, p := range []string{"health", "ready"} {
				fmt.Fprintf(streams.ErrOut, "  GET /%s: %s\n", p, sum.Health[p])
			}
		} else {
			fmt.Fprintln(streams.ErrOut, "✔ preview Ready (pass --url to check it through the cluster's ingress)")
		}
	}
	return runErr
}
