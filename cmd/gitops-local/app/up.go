package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
)

type upOptions struct {
	global  *globalOptions
	cluster clusterFlags
	repo    string
	timeout time.Duration
	offline bool
	render  renderFlags
	// The app image (up on k3d only).
	appSrc    string
	image     string
	skipBuild bool
}

const upLong = `Create the local preview, the same GitOps deployment the cloud's
ephemeral previews run:

  1. check, before anything is created, that Docker answers (the engine of
     DOCKER_HOST, else of the current docker context), that its host runs
     cgroup v2, and that the ports are free;
  2. build Ghillie's image from --app-src (a Ghillie checkout) with this
     repository's Dockerfile, or tag --image REF, as ghillie:local, in that
     same engine;
  3. create the k3d cluster --cluster (k3s, its ingress on a loopback port,
     a k3d-managed registry on loopback), reuse it, or start it again if it
     was stopped, and write its own kubeconfig under the state folder
     (~/.kube/config is left alone unless --merge-kubeconfig asks to add the
     context to it);
  4. import ghillie:local (its native platform) into every node and check
     that each has it by name and ID;
  5. install Flux at the pinned versions (from manifests built into the tool);
  6. push the platform charts (from the local chart cache), charts/ghillie and
     this repository's gitops/, overlays/ and charts/ to the cluster's registry,
     skipping what the registry already holds;
  7. point Flux at them: the cluster-vars ConfigMap (with APP_IMAGE_ID, the
     imported image's ID, which the local overlay puts in a pod annotation so
     that a rebuilt image rolls out), the OCIRepository and the root
     Kustomization for overlays/local, and ask Flux to reconcile now;
  8. create the Secret ghillie (DATABASE_URL, GHILLIE_DATABASE_URL, VALKEY_URL)
     as soon as CloudNativePG and valkey-operator have made theirs;
  9. wait until every Kustomization and HelmRelease has applied what was
     pushed, following dependsOn, and stop at the first failure;
 10. print the preview URL and the app's /health and /ready answers.

Every step is idempotent: run up again after a change, a failure or Ctrl-C.

With --kubeconfig, up deploys to a cluster you already have instead (steps
5-10), whose registry is given with --registry; it creates nothing and
imports no image.

Exit codes: 0 Ready, 2 failed (no Docker, bad flags, a failed build or
reconciliation, a timeout).`

func newUpCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &upOptions{global: global}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create the cluster, deploy the local preview with Flux and wait until it is Ready",
		Long:  upLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.runUp(cmd.Context(), streams)
		},
	}
	opts.flags(cmd)
	f := cmd.Flags()
	opts.cluster.k3dFlags(f)
	f.StringVar(&opts.appSrc, "app-src", "", "a Ghillie checkout to build ghillie:local from (k3d)")
	f.StringVar(&opts.image, "image", "", "a prebuilt image to run as ghillie:local instead of building one (k3d)")
	f.BoolVar(&opts.skipBuild, "skip-build", false, "reuse the ghillie:local Docker already has (k3d)")
	cmd.MarkFlagsMutuallyExclusive("app-src", "image", "skip-build")
	_ = cmd.MarkFlagDirname("app-src")
	return cmd
}

const syncLong = `One round of the inner loop on a cluster 'gitops-local up' has prepared:
validate every environment offline (as 'gitops-local validate' does) and
refuse an invalid change before anything is pushed, naming the environment,
file, object and field; push what changed; ask Flux to reconcile at once;
and wait, revision-aware, until everything has applied it, reporting on
stderr the objects each Kustomization created, configured and deleted, and
each new Helm release.

It works on the k3d cluster --cluster, or on the cluster given with
--kubeconfig and --registry.

Exit codes: 0 applied and Ready, 2 refused, failed or timed out.`

func newSyncCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &upOptions{global: global}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Validate, push and reconcile local changes once, and wait until they are applied",
		Long:  syncLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams)
		},
	}
	opts.flags(cmd)
	return cmd
}

// flags are the flags up, sync and watch share.
func (o *upOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "root of the repository holding gitops/, overlays/ and charts/ (default: the enclosing git work tree)")
	o.cluster.existingFlags(f)
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "deadline for the whole command (each round of watch): every step, request and wait ends with it")
	f.BoolVar(&o.offline, "offline", false, "never pull charts: use only the local chart cache")
	o.render.register(f)
}

// run is sync: one round on the cluster up has prepared.
func (o *upOptions) run(cmd *cobra.Command, streams Streams) error {
	if err := o.checkFlags(); err != nil {
		return err
	}
	ctx, cancel := o.deadline(cmd.Context())
	defer cancel()
	opts, err := o.prepare(ctx)
	if err != nil {
		return o.timedOut(ctx, "sync", err)
	}
	return o.timedOut(ctx, "sync", o.execute(ctx, streams, opts))
}

// errTimeout is the cause of a context ended by --timeout.
var errTimeout = errors.New("--timeout reached")

// deadline bounds the whole of up or sync (each round of watch) by
// --timeout: every request to the cluster and the registry ends with it.
func (o *upOptions) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, o.timeout, errTimeout)
}

// timedOut says that err came from --timeout, when it did: the error of
// the request the deadline stopped names the server, not the deadline.
func (o *upOptions) timedOut(ctx context.Context, what string, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("%s did not finish within --timeout %s: %w", what, o.timeout, err)
	}
	return err
}

// prepare finds the cluster up has prepared (creating nothing) and reads
// its kubeconfig and the chart cache: the part of a sync or watch that no
// change to the repository can fix.
func (o *upOptions) prepare(ctx context.Context) (up.Options, error) {
	if err := o.checkFlags(); err != nil {
		return up.Options{}, err
	}
	p, err := o.cluster.provider(o.global, progress.Discard)
	if err != nil {
		return up.Options{}, err
	}
	c, err := p.Get(ctx)
	if errors.Is(err, cluster.ErrNotFound) {
		return up.Options{}, fmt.Errorf("no k3d cluster %q: run gitops-local up first: %w", o.global.cluster, err)
	}
	if err != nil {
		return up.Options{}, err
	}
	root, err := gitops.FindRepoRoot(o.repo)
	if err != nil {
		return up.Options{}, err
	}
	return o.options(ctx, root, c)
}

func (o *upOptions) checkFlags() error {
	if o.timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be positive", o.timeout)
	}
	if err := o.cluster.check(); err != nil {
		return err
	}
	_, err := o.render.limits()
	return err
}

// options are up's options for the repository at root and cluster c;
// every request to the cluster ends with ctx.
func (o *upOptions) options(ctx context.Context, root string, c *cluster.Cluster) (up.Options, error) {
	cfg, err := restConfig(c.Kubeconfig)
	if err != nil {
		return up.Options{}, err
	}
	// Each request is bounded, whatever the deadline of the command: a
	// watch cut by it is started again (reconcile.Watch).
	cfg.Timeout = requestTimeout
	cfg = cluster.BindContext(ctx, cfg)
	dir, err := chartcache.DefaultDir(o.global.lookupEnv)
	if err != nil {
		return up.Options{}, err
	}
	cache, err := chartcache.New(dir, chartcache.WithOffline(o.offline))
	if err != nil {
		return up.Options{}, err
	}
	limits, err := o.render.limits()
	if err != nil {
		return up.Options{}, err
	}
	return up.Options{
		RenderLimits: limits,
		RepoRoot:     root,
		Config:       cfg,
		RegistryPush: c.RegistryPush,
		RegistryPull: c.RegistryPull,
		Charts:       cache,
		Timeout:      o.timeout,
		URL:          c.URL,
	}, nil
}

// runUp gets the cluster (on k3d: checks Docker, builds or tags the image,
// creates or reuses the cluster and imports the image), then runs up's
// Flux steps on it.
func (o *upOptions) runUp(ctx context.Context, streams Streams) error {
	if err := o.checkFlags(); err != nil {
		return err
	}
	ctx, cancel := o.deadline(ctx)
	defer cancel()
	return o.timedOut(ctx, "up", o.up(ctx, streams))
}

// up is runUp within its deadline: the flags checked against the
// provider they select, then up.Up.
func (o *upOptions) up(ctx context.Context, streams Streams) error {
	rep := progress.New(streams.ErrOut, o.global.verbose)
	p, err := o.cluster.provider(o.global, rep)
	if err != nil {
		return err
	}
	var out io.Writer
	if o.global.verbose {
		out = progress.DetailWriter(rep, "")
	}
	img := up.AppImage{AppSrc: o.appSrc, Prebuilt: o.image, Reuse: o.skipBuild, Output: out}
	// Flags and the repository are checked before anything is created.
	root, err := gitops.FindRepoRoot(o.repo)
	if err != nil {
		return err
	}
	run, err := up.NewClusterRun(p, img, root, rep)
	switch {
	case errors.Is(err, up.ErrImageNotImported):
		return errors.New("--app-src, --image and --skip-build are for a k3d cluster; with --kubeconfig, get the image to the cluster yourself")
	case errors.Is(err, up.ErrNoAppImage):
		return errors.New("no app image: pass --app-src DIR (a Ghillie checkout to build), --image REF (a prebuilt image), or --skip-build (reuse ghillie:local)")
	case err != nil:
		return err
	}
	sum, err := up.Up(ctx, rep, run, func(c *cluster.Cluster) (up.Options, error) {
		opts, err := o.options(ctx, root, c)
		opts.Log = rep
		return opts, err
	})
	return o.report(streams, &upSummary{Cluster: run.Cluster, Summary: sum}, err)
}

// upSummary is up's -o json output: the cluster and what up did on it.
type upSummary struct {
	Cluster *cluster.Cluster `json:"cluster,omitempty"`
	*up.Summary
}

// execute runs one sync round (sync, and each round of watch) and prints
// the outcome.
func (o *upOptions) execute(ctx context.Context, streams Streams, opts up.Options) error {
	rep := progress.New(streams.ErrOut, o.global.verbose)
	opts.Log = rep
	sum, runErr := up.Sync(ctx, rep, opts)
	return o.report(streams, &upSummary{Summary: sum}, runErr)
}

// report prints the outcome of up or sync: the JSON summary with -o json,
// else the preview URL on stdout and its health on stderr.
func (o *upOptions) report(streams Streams, s *upSummary, runErr error) error {
	if o.global.output == OutputJSON && s.Summary != nil {
		if err := writeJSON(streams.Out, "summary", s); err != nil {
			return err
		}
		return runErr
	}
	if runErr != nil || s.Summary == nil {
		return runErr
	}
	if s.URL != "" {
		fmt.Fprintf(streams.Out, "%s\n", s.URL)
		for _, p := range []string{"health", "ready"} {
			fmt.Fprintf(streams.ErrOut, "  GET /%s: %s\n", p, s.Health[p])
		}
	} else {
		fmt.Fprintln(streams.ErrOut, "✔ preview Ready (pass --url to check it through the cluster's ingress)")
	}
	return nil
}
