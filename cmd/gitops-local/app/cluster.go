package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/cluster/k3d"
	"github.com/leynos/gitops-local/bootstrap/cluster/provider"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
)

// The k3d provider checks its prerequisites and runs the local app image:
// up finds both by type assertion, so losing either must not compile.
var (
	_ up.Preflighter   = (*k3d.Provider)(nil)
	_ up.ImageImporter = (*k3d.Provider)(nil)
)

// appSelector selects the app's pods.
var appSelector = map[string]string{"app.kubernetes.io/name": "ghillie"}

// newClient connects to the cluster with every type up reads and writes
// (Flux's included).
func newClient(cfg *rest.Config) (client.Client, error) {
	scheme, err := up.Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return c, nil
}

// clusterFlags choose the cluster a command works on: the k3d cluster
// named by --cluster (the default), or an existing cluster given with
// --kubeconfig and its registry.
type clusterFlags struct {
	registry          string
	registryInCluster string
	url               string
	port              int
	mergeKubeconfig   bool
}

// existingFlags are the flags of an existing cluster.
func (f *clusterFlags) existingFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.registry, "registry", "", "with --kubeconfig: the cluster's OCI registry as this machine reaches it (host:port, plain HTTP)")
	fs.StringVar(&f.registryInCluster, "registry-in-cluster", "", "with --kubeconfig: the same registry as the cluster reaches it (default: --registry)")
	fs.StringVar(&f.url, "url", "", "with --kubeconfig: the preview's address through the cluster's ingress, e.g. http://127.0.0.1:8080/")
}

// k3dFlags are the flags of a k3d cluster gitops-local creates.
func (f *clusterFlags) k3dFlags(fs *pflag.FlagSet) {
	fs.IntVar(&f.port, "port", 0, "loopback port for the k3d cluster's ingress (default: a free port, or the port an existing cluster has)")
	fs.BoolVar(&f.mergeKubeconfig, "merge-kubeconfig", false, "also add the cluster's context (k3d-<cluster>) to your kubeconfig ($KUBECONFIG or ~/.kube/config), without switching to it")
}

// check checks the address flags' syntax, before anything is done with
// them: a typo must not fail halfway, after the cluster has been changed.
func (f *clusterFlags) check() error {
	for _, a := range []struct{ flag, value string }{{"--registry", f.registry}, {"--registry-in-cluster", f.registryInCluster}} {
		if a.value == "" {
			continue
		}
		if err := cluster.CheckHostPort(a.value); err != nil {
			return fmt.Errorf("invalid %s: %w (want host:port, such as 127.0.0.1:5000)", a.flag, err)
		}
	}
	if f.url != "" {
		if err := cluster.CheckURL(f.url); err != nil {
			return fmt.Errorf("invalid --url: %w (want a URL such as http://127.0.0.1:8080/)", err)
		}
	}
	if err := cluster.CheckPort(f.port, true); err != nil {
		return fmt.Errorf("invalid --port: %w", err)
	}
	return nil
}

// provider returns the provider the flags select (provider.New): Existing
// when --kubeconfig is given, k3d otherwise.
func (f *clusterFlags) provider(global *globalOptions, log progress.Logger) (cluster.Provider, error) {
	if global.kubeconfig != "" {
		if f.port != 0 || f.mergeKubeconfig {
			return nil, errors.New("--port and --merge-kubeconfig are for a k3d cluster gitops-local creates; drop them with --kubeconfig")
		}
		return provider.New(provider.Config{Existing: cluster.Existing{Kubeconfig: global.kubeconfig, Registry: f.registry, RegistryInCluster: f.registryInCluster, URL: f.url}})
	}
	switch {
	case f.registry != "" || f.registryInCluster != "":
		return nil, errors.New("--registry is for an existing cluster given with --kubeconfig; a k3d cluster has its own registry")
	case f.url != "":
		return nil, errors.New("--url is for an existing cluster given with --kubeconfig; a k3d cluster's URL is known")
	}
	opts, err := k3dOptions(global, k3d.Options{Port: f.port, MergeKubeconfig: f.mergeKubeconfig, Log: log})
	if err != nil {
		return nil, err
	}
	return provider.New(provider.Config{K3d: opts})
}

// newK3d returns the k3d provider for --cluster, with opts' other fields.
func newK3d(global *globalOptions, opts k3d.Options) (*k3d.Provider, error) {
	opts, err := k3dOptions(global, opts)
	if err != nil {
		return nil, err
	}
	return k3d.New(opts)
}

// k3dOptions are opts with the cluster's name, state folder and the
// user's kubeconfig filled in.
func k3dOptions(global *globalOptions, opts k3d.Options) (k3d.Options, error) {
	state, err := cluster.StateDir(global.lookupEnv)
	if err != nil {
		return opts, err
	}
	opts.Name, opts.StateDir, opts.UserKubeconfig = global.cluster, state, userKubeconfig(global.lookupEnv)
	opts.LookupEnv = global.lookupEnv
	return opts, nil
}

// userKubeconfig is the user's own kubeconfig, as kubectl finds it: the
// first file in $KUBECONFIG, else ~/.kube/config; "" when neither is known.
func userKubeconfig(lookupEnv func(string) (string, bool)) string {
	if v, ok := lookupEnv("KUBECONFIG"); ok {
		for _, p := range filepath.SplitList(v) {
			if p != "" {
				return p
			}
		}
	}
	if home, ok := lookupEnv("HOME"); ok && home != "" {
		return filepath.Join(home, ".kube", "config")
	}
	return ""
}

// clusterConfig finds the cluster a read-only command (status, logs) looks
// at and reads its kubeconfig: --kubeconfig, else the k3d cluster
// --cluster's own, and then that cluster is returned too. Every request
// made with the configuration ends with ctx.
func clusterConfig(ctx context.Context, global *globalOptions) (*rest.Config, *cluster.Cluster, error) {
	if global.kubeconfig != "" {
		cfg, err := restConfig(global.kubeconfig)
		if err != nil {
			return nil, nil, err
		}
		return cluster.BindContext(ctx, cfg), nil, nil
	}
	p, err := newK3d(global, k3d.Options{Log: progress.Discard})
	if err != nil {
		return nil, nil, err
	}
	c, err := p.Get(ctx)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, nil, errors.New("no k3d cluster " + `"` + global.cluster + `"` + ": run gitops-local up, or pass --kubeconfig for another cluster")
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := restConfig(c.Kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	// Ctrl-C ends every request, those of API discovery included.
	return cluster.BindContext(ctx, cfg), c, nil
}

// restConfig reads the kubeconfig at path.
func restConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// requestTimeout bounds each request to a cluster's API server.
const requestTimeout = 30 * time.Second
