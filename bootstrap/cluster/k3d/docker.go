package k3d

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/client"
	k3dclient "github.com/k3d-io/k3d/v5/pkg/client"
	"github.com/k3d-io/k3d/v5/pkg/config"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	k3dlog "github.com/k3d-io/k3d/v5/pkg/logger"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"
	"github.com/k3d-io/k3d/v5/version"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// PingTimeout bounds the check that a Docker engine answers, so that
// `up` on a machine without one fails at once.
const PingTimeout = 500 * time.Millisecond

// pinHelperImages makes k3d tag its helper images (load balancer, tools)
// with the pinned k3d version: without a version set at link time k3d falls
// back to "latest".
func pinHelperImages() {
	version.Version = versions.K3d
	version.HelperVersionOverride = strings.TrimPrefix(versions.K3d, "v")
}

// dockerEngine is engine over k3d's library and the Docker Engine API.
type dockerEngine struct {
	rt     runtimes.Runtime
	docker *client.Client
}

func newDockerEngine(log progress.Logger) (*dockerEngine, error) {
	c, err := image.NewClient()
	if err != nil {
		return nil, err
	}
	// k3d logs through logrus at info level; its lines are detail here.
	k3dlog.Log().SetLevel(logrus.InfoLevel)
	if log == nil {
		log = progress.Discard
	}
	k3dlog.Log().SetOutput(progress.DetailWriter(log, "k3d: "))
	return &dockerEngine{rt: runtimes.Docker, docker: c}, nil
}

// Ping fails, within PingTimeout, when no Docker engine answers.
func (d *dockerEngine) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if _, err := d.docker.Ping(ctx); err != nil {
		return &NoDockerError{Host: d.docker.DaemonHost(), Err: err}
	}
	return nil
}

// NoDockerError says that no Docker engine answered.
type NoDockerError struct {
	Host string
	Err  error
}

func (e *NoDockerError) Error() string {
	return fmt.Sprintf("no Docker engine answers at %s (%v): k3d runs the cluster in Docker, so start Docker (or set DOCKER_HOST), or deploy to a cluster you already have with --kubeconfig and --registry", e.Host, e.Err)
}

func (e *NoDockerError) Unwrap() error { return e.Err }

func (d *dockerEngine) Get(ctx context.Context, name string) (*k3d.Cluster, error) {
	c, err := k3dclient.ClusterGet(ctx, d.rt, &k3d.Cluster{Name: name})
	if errors.Is(err, k3dclient.ClusterGetNoNodesFoundError) {
		return nil, fmt.Errorf("k3d cluster %q: %w", name, cluster.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading k3d cluster %q: %w", name, err)
	}
	return c, nil
}

// Create does what `k3d cluster create --config` does: process, transform
// and validate the configuration, then run the cluster.
func (d *dockerEngine) Create(ctx context.Context, simple v1alpha5.SimpleConfig) error {
	if err := config.ProcessSimpleConfig(&simple); err != nil {
		return fmt.Errorf("processing the k3d configuration: %w", err)
	}
	cc, err := config.TransformSimpleToClusterConfig(ctx, d.rt, simple, "")
	if err != nil {
		return fmt.Errorf("transforming the k3d configuration: %w", err)
	}
	if cc, err = config.ProcessClusterConfig(*cc); err != nil {
		return fmt.Errorf("processing the k3d cluster configuration: %w", err)
	}
	if err := config.ValidateClusterConfig(ctx, d.rt, *cc); err != nil {
		return fmt.Errorf("invalid k3d cluster configuration: %w", err)
	}
	return k3dclient.ClusterRun(ctx, d.rt, cc)
}

func (d *dockerEngine) Start(ctx context.Context, c *k3d.Cluster) error {
	opts, err := k3dclient.GetClusterStartOptsFromLabels(c)
	if err != nil {
		return err
	}
	opts.WaitForServer = true
	opts.Timeout = 5 * time.Minute
	return k3dclient.ClusterStart(ctx, d.rt, c, opts)
}

func (d *dockerEngine) Delete(ctx context.Context, c *k3d.Cluster) error {
	return k3dclient.ClusterDelete(ctx, d.rt, c, k3d.ClusterDeleteOpts{SkipRegistryCheck: true})
}

func (d *dockerEngine) Kubeconfig(ctx context.Context, c *k3d.Cluster) ([]byte, error) {
	cfg, err := k3dclient.KubeconfigGet(ctx, d.rt, c)
	if err != nil {
		return nil, err
	}
	return clientcmd.Write(*cfg)
}

func (d *dockerEngine) ImageID(ctx context.Context, ref string) (string, error) {
	return image.Exists(ctx, d.docker, ref)
}

func (d *dockerEngine) Import(ctx context.Context, c *k3d.Cluster, refs []string) error {
	return k3dclient.ImageImportIntoClusterMulti(ctx, d.rt, refs, c, k3d.ImageImportOpts{Mode: k3d.ImportModeAutoDetect})
}

// NodeImageDigests asks the node's container runtime for the image: its
// CRI image ID (the config digest, which is Docker's image ID with the
// classic image store) and containerd's manifest digest (Docker's image ID
// with the containerd image store).
func (d *dockerEngine) NodeImageDigests(ctx context.Context, n *k3d.Node, ref string) ([]string, error) {
	script := fmt.Sprintf("crictl images --no-trunc -q %[1]s 2>/dev/null; ctr -n k8s.io images ls name==%[1]s 2>/dev/null; true", ref)
	r, err := d.rt.ExecInNodeGetLogs(ctx, n, []string{"sh", "-c", script})
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, nil
	}
	return parseDigests(r)
}

var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// parseDigests collects every sha256 digest in the output, once each.
func parseDigests(r io.Reader) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		for _, d := range digestRE.FindAllString(sc.Text(), -1) {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out, sc.Err()
}

// Available reports whether a Docker engine answers here, for tests that
// need one and skip otherwise.
func Available(ctx context.Context) error {
	e, err := newDockerEngine(nil)
	if err != nil {
		return err
	}
	return e.Ping(ctx)
}
