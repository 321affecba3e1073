// Package up turns a running cluster into the local preview: it installs
// Flux, publishes this repository and the charts to the cluster's registry,
// points Flux at them, wires the app Secret and waits until the whole
// dependsOn chain has applied what was pushed. Every step is idempotent, so
// `up` can be run again after a change, a failure or Ctrl-C.
package up

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/publish"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/secrets"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// Names of what up creates in the cluster: the same root that `flux
// bootstrap` leaves in the cloud (see overlays/README.md).
const (
	RootName         = gitops.RootName
	ClusterVars      = gitops.VarsConfigMap
	ArtifactRepo     = gitops.ArtifactRepo
	ArtifactTag      = gitops.ArtifactTag
	ChartsRepo       = "charts"
	RegistryVariable = "CHART_REGISTRY"
	// ImageIDVariable holds the ID of the app image imported into the
	// cluster's nodes. The local overlay puts it in a pod annotation, so
	// a rebuilt image changes the HelmRelease's values and helm-controller
	// upgrades the release: the new pod comes through Flux, not around it.
	ImageIDVariable = "APP_IMAGE_ID"
)

// App names the application objects of the local environment.
var App = secrets.Config{Namespace: "ghillie", Name: "ghillie", PostgresCluster: "ghillie-db", Valkey: "ghillie-valkey"}

// Options say which cluster and registry to use.
type Options struct {
	// RepoRoot is this repository's checkout.
	RepoRoot string
	// Environment is the overlay to reconcile; "local" unless testing.
	Environment string
	// Config reaches the cluster's API server.
	Config *rest.Config
	// RegistryPush is the registry's host:port as this tool reaches it;
	// RegistryPull as the cluster reaches it.
	RegistryPush, RegistryPull string
	// Charts is the local chart cache the platform charts come from.
	Charts *chartcache.Cache
	// Timeout bounds the wait for the whole chain.
	Timeout time.Duration
	// RenderLimits bound each chart render of the validation.
	RenderLimits render.Limits
	// URL is the preview's address (http://127.0.0.1:<port>/); empty when
	// the cluster's ingress is not reachable from here.
	URL string
	// Log receives detail lines.
	Log progress.Logger
	// Now is the clock for reconcile request tokens.
	Now func() time.Time
	// ImageID is the ID of the app image up imported, written to the
	// cluster variable ImageIDVariable; "" keeps the cluster's value (sync,
	// or a cluster whose image is not up's to import).
	ImageID string
	// Validated, when set, is shared by successive syncs (a watch) so that
	// each validates only the environments its change touches; without it
	// sync validates every environment.
	Validated *Validated
}

// Summary is what up did, for `-o json`.
type Summary struct {
	Steps    []progress.StepResult `json:"steps"`
	Artifact *publish.Artifact     `json:"artifact,omitempty"`
	Charts   []*publish.Artifact   `json:"charts,omitempty"`
	Changed  []string              `json:"changed,omitempty"`
	// Validated are the environments sync validated.
	Validated []string `json:"validated,omitempty"`
	// Applied is what Flux created, configured, deleted or released.
	Applied []reconcile.Change       `json:"applied,omitempty"`
	Objects []reconcile.ObjectResult `json:"objects,omitempty"`
	Secret  secrets.Outcome          `json:"secret,omitempty"`
	URL     string                   `json:"url,omitempty"`
	Health  map[string]string        `json:"health,omitempty"`
}

// Runner is one run of up.
type Runner struct {
	opts    Options
	client  client.WithWatch
	pub     *publish.Publisher
	summary *Summary
	// nudged are the objects asked to reconcile once their dependencies
	// were ready, by wait's poll or by nudgeOnApply.
	nudgeMu sync.Mutex
	nudged  map[reconcile.Ref]bool
	// changes follows what Flux applies, from the publish step on;
	// changesLog prints each change (Debugf for up, Infof for sync).
	changes    *reconcile.Changes
	changesLog func(format string, args ...any)
	observed   time.Time
}

// observeGap is the least time between two reads of the events that say
// what Flux applied.
const observeGap = 500 * time.Millisecond

// Scheme holds every type up reads or writes.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New checks the options and connects to the cluster.
func New(opts Options) (*Runner, error) {
	if opts.Environment == "" {
		opts.Environment = "local"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = progress.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RegistryPull == "" {
		opts.RegistryPull = opts.RegistryPush
	}
	switch {
	case opts.Config == nil:
		return nil, errors.New("no cluster: a kubeconfig is needed")
	case opts.RegistryPush == "":
		return nil, errors.New("no registry: the registry address (host:port) is needed")
	case opts.Charts == nil:
		return nil, errors.New("no chart cache")
	}
	if _, err := os.Stat(filepath.Join(opts.RepoRoot, "overlays", opts.Environment, "kustomization.yaml")); err != nil {
		return nil, fmt.Errorf("environment %q not found in %s: %w", opts.Environment, filepath.Join(opts.RepoRoot, "overlays"), err)
	}
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(opts.Config, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster at %s: %w", opts.Config.Host, err)
	}
	pub, err := publish.New(opts.RegistryPush, publish.WithInsecure())
	if err != nil {
		return nil, err
	}
	return &Runner{opts: opts, client: c, pub: pub, summary: &Summary{}, nudged: map[reconcile.Ref]bool{}, changesLog: opts.Log.Debugf}, nil
}

// Steps are up's steps, in order.
func (r *Runner) Steps() []progress.Step {
	return []progress.Step{
		{Name: "Install Flux " + versions.SourceController + "/" + versions.KustomizeController + "/" + versions.HelmController, Run: r.installFlux},
		{Name: "Publish charts and the GitOps tree to " + r.opts.RegistryPush, Run: r.publish},
		{Name: "Point Flux at overlays/" + r.opts.Environment, Run: r.configure},
		{Name: "Wait for platform, data and app to be Ready", Run: r.wait},
		{Name: "Check the preview", Run: r.report},
	}
}

// Run runs every step with rep reporting them, and returns the summary.
func Run(ctx context.Context, rep *progress.Reporter, opts Options) (*Summary, error) {
	r, err := New(opts)
	if err != nil {
		return nil, err
	}
	steps, err := rep.Run(ctx, r.Steps())
	r.summary.Steps = steps
	return r.summary, err
}

func (r *Runner) installFlux(ctx context.Context) error {
	res, err := flux.Install(ctx, r.client, r.opts.Timeout)
	if err != nil {
		return err
	}
	for action, objs := range res.Changes {
		if action != string(ssa.UnchangedAction) {
			for _, o := range objs {
				r.summary.Changed = append(r.summary.Changed, o+" "+action)
				r.opts.Log.Debugf("%s %s", o, action)
			}
		}
	}
	return nil
}

// publish pushes the platform charts the environment needs from the chart
// cache, the app chart, and the GitOps tree, skipping what is unchanged.
func (r *Runner) publish(ctx context.Context) error {
	// Remember what Flux has applied before anything is pushed, to report
	// what it then creates, changes and deletes. That is progress only: a
	// cluster without Flux's CRDs yet simply reports nothing.
	if ch, err := reconcile.NewChanges(ctx, r.client, r.opts.Now()); err == nil {
		r.changes = ch
	} else {
		r.opts.Log.Debugf("not following Flux's changes: %v", err)
	}
	var local []versions.Chart
	for _, ch := range versions.Charts {
		if ch.Local {
			local = append(local, ch)
		}
	}
	charts, err := PushCharts(ctx, r.pub, r.opts.Charts, r.opts.RepoRoot, local)
	for _, a := range charts {
		r.note(a)
	}
	r.summary.Charts = append(r.summary.Charts, charts...)
	if err != nil {
		return err
	}

	tree, err := r.pub.Tree(ctx, r.opts.RepoRoot, ArtifactRepo, ArtifactTag)
	if err != nil {
		return err
	}
	r.note(tree)
	r.summary.Artifact = tree
	return nil
}

// PushCharts pushes to pub, under ChartsRepo, each pinned platform chart
// of pins from the chart cache and then the repository's own chart
// charts/ghillie, as up does for the local environment (whose overlay
// points every HelmRepository at oci://<registry>/charts), skipping what
// the registry already holds. It returns what it pushed or found, up to
// the first error.
func PushCharts(ctx context.Context, pub *publish.Publisher, cache *chartcache.Cache, repoRoot string, pins []versions.Chart) ([]*publish.Artifact, error) {
	var out []*publish.Artifact
	for _, ch := range pins {
		path, err := cache.Get(ctx, chartcache.Ref{Name: ch.Name, Version: ch.Version, Repository: ch.Repository})
		if err != nil {
			return out, err
		}
		a, err := pub.Chart(ctx, path, ChartsRepo)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	a, err := pub.Chart(ctx, filepath.Join(repoRoot, "charts", "ghillie"), ChartsRepo)
	if err != nil {
		return out, err
	}
	return append(out, a), nil
}

func (r *Runner) note(a *publish.Artifact) {
	if a.Skipped {
		r.opts.Log.Debugf("%s unchanged (%s)", a.URL, a.Digest)
		return
	}
	r.opts.Log.Infof("pushed %s (%s)", a.URL, a.Revision)
}

// configure applies the cluster's root: the cluster-vars ConfigMap, the
// OCIRepository serving the pushed tree and the Kustomization of the
// environment's overlay; then asks Flux to reconcile at once if anything
// was pushed or changed.
func (r *Runner) configure(ctx context.Context) error {
	vars, err := readVars(filepath.Join(r.opts.RepoRoot, "overlays", r.opts.Environment, "cluster-vars.env"))
	if err != nil {
		return err
	}
	vars[RegistryVariable] = r.opts.RegistryPull
	current, err := clusterVars(ctx, r.client)
	if err != nil {
		return err
	}
	setImageID(vars, r.opts.ImageID, current)
	objs, err := rootObjects(r.opts.Environment, r.opts.RegistryPull, vars)
	if err != nil {
		return err
	}

	rm := ssa.NewResourceManager(r.client, nil, ssa.Owner{Field: flux.FieldManager, Group: "gitops-local.leynos.github.io"})
	cs, err := rm.ApplyAll(ctx, objs, ssa.DefaultApplyOptions())
	if err != nil {
		return fmt.Errorf("applying the cluster's root objects: %w", err)
	}
	changed := false
	for _, e := range cs.Entries {
		if e.Action != ssa.UnchangedAction {
			changed = true
			r.summary.Changed = append(r.summary.Changed, e.Subject+" "+string(e.Action))
			r.opts.Log.Debugf("%s %s", e.Subject, e.Action)
		}
	}
	chartPushed := false
	for _, a := range r.summary.Charts {
		chartPushed = chartPushed || !a.Skipped
	}
	// Ask now rather than waiting for intervals: the tree's source first,
	// then, when a chart was pushed, every chart source, which only notice
	// a push on their interval. A chart source asked for nothing new would
	// only keep its controller busy while the tree is being applied.
	now := r.opts.Now()
	if changed || !r.summary.Artifact.Skipped || chartPushed {
		if _, err := reconcile.Request(ctx, r.client, &sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Namespace: RootName, Name: RootName}}, now); err != nil {
			return err
		}
	}
	if changed || chartPushed {
		return r.requestChartSources(ctx, now)
	}
	return nil
}

// requestChartSources asks every chart source that exists to fetch again.
func (r *Runner) requestChartSources(ctx context.Context, now time.Time) error {
	var repos sourcev1.OCIRepositoryList
	if err := r.client.List(ctx, &repos); err != nil {
		return fmt.Errorf("listing OCIRepositories: %w", err)
	}
	for i := range repos.Items {
		if o := &repos.Items[i]; o.Name != RootName {
			if _, err := reconcile.Request(ctx, r.client, o, now); err != nil {
				return err
			}
		}
	}
	var hrs sourcev1.HelmRepositoryList
	if err := r.client.List(ctx, &hrs); err != nil {
		return fmt.Errorf("listing HelmRepositories: %w", err)
	}
	for i := range hrs.Items {
		if _, err := reconcile.Request(ctx, r.client, &hrs.Items[i], now); err != nil {
			return err
		}
	}
	return nil
}

// clusterVars are the variables of the cluster's cluster-vars ConfigMap,
// nil when there is none yet.
func clusterVars(ctx context.Context, c client.Reader) (map[string]string, error) {
	var cm corev1.ConfigMap
	err := c.Get(ctx, client.ObjectKey{Namespace: gitops.FluxNamespace, Name: ClusterVars}, &cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", gitops.FluxNamespace, ClusterVars, err)
	}
	return cm.Data, nil
}

// setImageID sets the image ID variable: the imported image's ID when up
// imported one, else the value the cluster already has, so that a sync
// (which imports nothing) leaves the pods alone rather than rolling them
// back to the file's placeholder.
func setImageID(vars map[string]string, imported string, current map[string]string) {
	switch {
	case imported != "":
		vars[ImageIDVariable] = imported
	case current[ImageIDVariable] != "":
		vars[ImageIDVariable] = current[ImageIDVariable]
	}
}

// rootObjects are what `flux bootstrap` would leave in a cluster
// (gitops.RootObjects), ready to apply.
func rootObjects(env, registry string, vars map[string]string) ([]*unstructured.Unstructured, error) {
	return gitops.RootObjects(env, registry, vars).Objects()
}

// readVars reads a cluster-vars.env file (see gitops.ParseVars).
func readVars(path string) (map[string]string, error) {
	data, err := gitops.ReadVarsFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster variables: %w", err)
	}
	vars, bad := gitops.ParseVars(data)
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s:%d: want KEY=value", path, bad[0])
	}
	return vars, nil
}

// wait waits for the chain, keeping the app Secret wired as the operators'
// Secrets appear.
func (r *Runner) wait(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.Timeout, fmt.Errorf("timed out after %s", r.opts.Timeout))
	defer cancel()
	src := reconcile.Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: RootName, Name: RootName}
	var secretErr error
	// Poll whenever a Flux object changes, not only every half second: a
	// dependent is then asked to reconcile as soon as its dependencies are.
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	defer r.nudgeOnApply(ctx)()
	res, err := reconcile.Wait(ctx, r.client, reconcile.Options{
		Wake:         reconcile.Watch(watchCtx, r.client),
		Source:       &src,
		SourceDigest: r.summary.Artifact.Digest,
		OnChange: func(ref reconcile.Ref, st reconcile.Status) {
			r.opts.Log.Infof("%s: %s", ref, st)
		},
		EachPoll: func(ctx context.Context, res *reconcile.Result) error {
			if err := r.nudge(ctx, res); err != nil {
				return err
			}
			r.observe(ctx, res, false)
			if r.summary.Secret != "" && r.summary.Secret != secrets.Waiting {
				return nil
			}
			out, what, err := secrets.Ensure(ctx, r.client, App)
			if err != nil {
				secretErr = err
				// Without the CRD the data layer cannot apply; say why
				// once the operator's release claims to be ready.
				if operatorReady(res) {
					return err
				}
				return nil
			}
			if out != r.summary.Secret {
				if out == secrets.Waiting {
					r.opts.Log.Debugf("app Secret: waiting for %s", what)
				} else {
					r.opts.Log.Infof("Secret %s/%s %s", App.Namespace, App.Name, out)
				}
			}
			r.summary.Secret = out
			return nil
		},
	})
	if res != nil {
		r.summary.Objects = res.Objects
	}
	r.observe(context.WithoutCancel(ctx), res, true)
	if err != nil {
		return err
	}
	if r.summary.Secret == secrets.Waiting || r.summary.Secret == "" {
		if secretErr != nil {
			return secretErr
		}
		return fmt.Errorf("everything is Ready but the Secrets made by CloudNativePG (%s-app) and valkey-operator (%s) are missing in namespace %s", App.PostgresCluster, App.Valkey, App.Namespace)
	}
	return nil
}

// observe reports, once each, what Flux created, configured, deleted and
// released since the push, as seen by the poll that gave res.
func (r *Runner) observe(ctx context.Context, res *reconcile.Result, final bool) {
	if r.changes == nil || res == nil {
		return
	}
	// Reading events costs the API server a list per namespace: while
	// waiting, at most every observeGap, so as not to slow the controllers
	// down on a small machine.
	if !final && time.Since(r.observed) < observeGap {
		return
	}
	r.observed = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	chs, err := r.changes.Observe(ctx, r.client, res)
	for _, ch := range chs {
		r.summary.Applied = append(r.summary.Applied, ch)
		r.changesLog("%s: %s", ch.By, ch)
	}
	if err != nil {
		r.opts.Log.Debugf("following Flux's changes: %v", err)
	}
}

// nudge asks Flux to reconcile, once, each object that is waiting on
// dependencies that have all become Ready, instead of leaving it to the
// controller's dependency requeue interval (30 s by default).
func (r *Runner) nudge(ctx context.Context, res *reconcile.Result) error {
	ready := map[reconcile.Ref]bool{}
	for _, o := range res.Objects {
		ready[o.Ref] = o.State == reconcile.Ready
	}
	for _, o := range res.Objects {
		if o.State != reconcile.Waiting {
			continue
		}
		all := true
		for _, d := range o.DependsOn {
			all = all && ready[d]
		}
		if !all {
			continue
		}
		var obj client.Object
		switch o.Kind {
		case kustomizev1.KustomizationKind:
			obj = &kustomizev1.Kustomization{}
		case helmv2.HelmReleaseKind:
			obj = &helmv2.HelmRelease{}
		default:
			continue
		}
		obj.SetNamespace(o.Namespace)
		obj.SetName(o.Name)
		if err := r.requestOnce(ctx, o.Ref, obj); err != nil {
			return err
		}
	}
	return nil
}

func operatorReady(res *reconcile.Result) bool {
	for _, o := range res.Objects {
		if o.Kind == helmv2.HelmReleaseKind && o.Name == "valkey-operator" && o.State == reconcile.Ready {
			return true
		}
	}
	return false
}

// report prints the preview URL and, where the app answers, its health.
func (r *Runner) report(ctx context.Context) error {
	r.summary.URL = r.opts.URL
	if r.opts.URL == "" {
		return nil
	}
	c := &http.Client{Timeout: 2 * time.Second}
	r.summary.Health = map[string]string{}
	for _, p := range []string{"health", "ready"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.opts.URL, "/")+"/"+p, nil)
		if err != nil {
			return fmt.Errorf("preview URL %q: %w", r.opts.URL, err)
		}
		resp, err := c.Do(req)
		if err != nil {
			r.summary.Health[p] = "not answering"
			continue
		}
		resp.Body.Close()
		r.summary.Health[p] = resp.Status
	}
	return nil
}
