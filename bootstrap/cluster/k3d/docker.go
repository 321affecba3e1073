package k3d

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	dockerversions "github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	k3dclient "github.com/k3d-io/k3d/v5/pkg/client"
	"github.com/k3d-io/k3d/v5/pkg/config"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	k3dlog "github.com/k3d-io/k3d/v5/pkg/logger"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"
	"github.com/k3d-io/k3d/v5/version"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// PingTimeout bounds one check that a Docker engine answers, so that `up`
// on a machine without one fails at once.
const PingTimeout = 500 * time.Millisecond

// WakeTimeout bounds the wait for an engine that is there but slow to
// answer: Docker Desktop in Resource Saver mode keeps its socket open and
// answers only once its VM has woken up.
const WakeTimeout = 30 * time.Second

// pinHelperImages makes k3d tag its helper images (load balancer, tools)
// with the pinned k3d version: without a version set at link time k3d falls
// back to "latest".
func pinHelperImages() {
	version.Version = versions.K3d
	version.HelperVersionOverride = strings.TrimPrefix(versions.K3d, "v")
}

// dockerAPI is the part of the Docker Engine API the engine uses;
// client.APIClient has it.
type dockerAPI interface {
	image.Inspector
	Ping(ctx context.Context) (types.Ping, error)
	Info(ctx context.Context) (system.Info, error)
	ServerVersion(ctx context.Context) (types.Version, error)
	ClientVersion() string
	NegotiateAPIVersion(ctx context.Context)
	DaemonHost() string
	NetworkInspect(ctx context.Context, name string, opts network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, name string) error
}

// nodeRuntime is the part of k3d's runtime the engine calls directly;
// runtimes.Runtime has it.
type nodeRuntime interface {
	GetNodesByLabel(ctx context.Context, labels map[string]string) ([]*k3d.Node, error)
	ExecInNodeWithStdin(ctx context.Context, n *k3d.Node, cmd []string, stdin io.ReadCloser) error
	ExecInNodeGetLogs(ctx context.Context, n *k3d.Node, cmd []string) (*bufio.Reader, error)
}

// k3dLib are the functions of k3d's library the engine calls with k3d's
// runtime: k3dclient's, except in tests.
type k3dLib struct {
	clusterGet   func(ctx context.Context, rt runtimes.Runtime, c *k3d.Cluster) (*k3d.Cluster, error)
	clusterStart func(ctx context.Context, rt runtimes.Runtime, c *k3d.Cluster, opts k3d.ClusterStartOpts) error
	gatherEnv    func(ctx context.Context, rt runtimes.Runtime, c *k3d.Cluster) (*k3d.EnvironmentInfo, error)
}

var upstreamK3d = k3dLib{
	clusterGet:   k3dclient.ClusterGet,
	clusterStart: k3dclient.ClusterStart,
	gatherEnv:    k3dclient.GatherEnvironmentInfo,
}

// dockerEngine is engine over k3d's library and the Docker Engine API.
// The Docker client is the one image.NewClient makes, which finds the
// engine as k3d's runtime does (docker context, DOCKER_HOST, TLS), so the
// image is built, saved and imported in the engine the cluster runs in.
type dockerEngine struct {
	rt     runtimes.Runtime
	nodes  nodeRuntime
	docker dockerAPI
	lib    k3dLib
	// save is Docker's image save, of one platform when p is not nil.
	save func(ctx context.Context, refs []string, p *ocispec.Platform) (io.ReadCloser, error)
	// sleep waits between pings; time.Sleep but in tests.
	sleep func(context.Context, time.Duration) error
}

func newDockerEngine(log progress.Logger, docker client.APIClient) *dockerEngine {
	// k3d logs through logrus at info level; its lines are detail here.
	k3dlog.Log().SetLevel(logrus.InfoLevel)
	if log == nil {
		log = progress.Discard
	}
	k3dlog.Log().SetOutput(progress.DetailWriter(log, "k3d: "))
	save := func(ctx context.Context, refs []string, p *ocispec.Platform) (io.ReadCloser, error) {
		if p == nil {
			return docker.ImageSave(ctx, refs)
		}
		return docker.ImageSave(ctx, refs, client.ImageSaveWithPlatforms(*p))
	}
	return &dockerEngine{rt: runtimes.Docker, nodes: runtimes.Docker, docker: docker, lib: upstreamK3d, save: save, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ping fails at once when nothing listens where the Docker engine should
// be, and waits up to WakeTimeout for an engine that is there but does not
// answer yet (Docker Desktop waking from Resource Saver).
func (d *dockerEngine) Ping(ctx context.Context) error {
	deadline := time.Now().Add(WakeTimeout)
	wait := PingTimeout
	for {
		pctx, cancel := context.WithTimeout(ctx, PingTimeout)
		_, err := d.docker.Ping(pctx)
		slow := errors.Is(pctx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			return nil
		}
		if !slow || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return &NoDockerError{Host: d.docker.DaemonHost(), Err: err}
		}
		if err := d.sleep(ctx, wait); err != nil {
			return &NoDockerError{Host: d.docker.DaemonHost(), Err: err}
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// NoDockerError says that no Docker engine answered.
type NoDockerError struct {
	Host string
	Err  error
}

func (e *NoDockerError) Error() string {
	return fmt.Sprintf("no Docker engine answers at %s (%v): k3d runs the cluster in Docker, so start Docker (or pick its context with `docker context use`, or set DOCKER_HOST), or deploy to a cluster you already have with --kubeconfig and --registry", e.Host, e.Err)
}

func (e *NoDockerError) Unwrap() error { return e.Err }

// Host describes the Docker engine.
func (d *dockerEngine) Host(ctx context.Context) (hostInfo, error) {
	info, err := d.docker.Info(ctx)
	if err != nil {
		return hostInfo{}, fmt.Errorf("asking Docker at %s for its information: %w", d.docker.DaemonHost(), err)
	}
	return hostInfo{CgroupVersion: info.CgroupVersion, Name: info.OperatingSystem}, nil
}

// Get lists the cluster's containers first: k3d's ClusterGet logs a Docker
// error and returns ClusterGetNoNodesFoundError as if there were no
// cluster (k3d v5.8.3 pkg/client/cluster.go ClusterGet), and `up` would
// then try to create a cluster that exists.
func (d *dockerEngine) Get(ctx context.Context, name string) (*k3d.Cluster, error) {
	nodes, err := d.nodes.GetNodesByLabel(ctx, map[string]string{k3d.LabelClusterName: name})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of k3d cluster %q: %w", name, err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("k3d cluster %q: %w", name, cluster.ErrNotFound)
	}
	c, err := d.lib.clusterGet(ctx, d.rt, &k3d.Cluster{Name: name})
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

// startTimeout bounds the start of a stopped cluster.
const startTimeout = 5 * time.Minute

// Start starts a stopped cluster as `k3d cluster start` does (k3d v5.8.3
// cmd/cluster/clusterStart.go): gather the environment (the host
// gateway's IP, which the DNS fix k3d turns on by default needs), take
// only the host aliases from the cluster's labels, and start with the
// start intent.
func (d *dockerEngine) Start(ctx context.Context, c *k3d.Cluster) error {
	env, err := d.lib.gatherEnv(ctx, d.rt, c)
	if err != nil {
		return fmt.Errorf("gathering the environment of k3d cluster %q: %w", c.Name, err)
	}
	labelled, err := k3dclient.GetClusterStartOptsFromLabels(c)
	if err != nil {
		return err
	}
	return d.lib.clusterStart(ctx, d.rt, c, k3d.ClusterStartOpts{
		Intent:          k3d.IntentClusterStart,
		EnvironmentInfo: env,
		HostAliases:     labelled.HostAliases,
		WaitForServer:   true,
		Timeout:         startTimeout,
	})
}

func (d *dockerEngine) Delete(ctx context.Context, c *k3d.Cluster) error {
	return k3dclient.ClusterDelete(ctx, d.rt, c, k3d.ClusterDeleteOpts{SkipRegistryCheck: true})
}

// LeftoverNetwork returns the network k3d-<name> when k3d made it (label
// app=k3d: k3d v5.8.3 pkg/types/defaults.go DefaultRuntimeLabels,
// pkg/runtimes/docker/network.go CreateNetworkIfNotPresent) and no
// container uses it, "" otherwise. A create that fails before any
// container exists leaves it behind, and k3d finds a cluster's network
// only from its nodes' labels (pkg/client/cluster.go ClusterDelete).
func (d *dockerEngine) LeftoverNetwork(ctx context.Context, name string) (string, error) {
	netName := k3d.DefaultObjectNamePrefix + "-" + name
	n, err := d.docker.NetworkInspect(ctx, netName, network.InspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspecting Docker network %s: %w", netName, err)
	}
	if n.Name != netName || n.Labels["app"] != "k3d" || len(n.Containers) > 0 {
		return "", nil
	}
	return netName, nil
}

// RemoveNetwork removes a Docker network; one already gone is not an
// error.
func (d *dockerEngine) RemoveNetwork(ctx context.Context, name string) error {
	if err := d.docker.NetworkRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing Docker network %s: %w", name, err)
	}
	return nil
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

// platformSaveAPI is the first Docker API version whose image save takes a
// platform (docker/docker v28.5.2 client/image_save.go).
const platformSaveAPI = "1.48"

// importCommand imports an image archive into a node's containerd for the
// node's own platform only. k3d imports with --all-platforms (v5.8.3
// pkg/client/tools.go loadImageFromStream), which fails with the
// containerd image store for a pulled multi-arch image: Docker has only
// the native platform's layers, yet its archive names every platform (k3d
// issue #1538). Without the flag ctr imports the platform it runs on.
var importCommand = []string{"ctr", "image", "import", "-"}

// Import saves the image's native platform from Docker and imports it into
// every server and agent node, one archive stream per node.
func (d *dockerEngine) Import(ctx context.Context, c *k3d.Cluster, refs []string) error {
	// An engine older than the platform option (Docker 27 and before)
	// saves what it has of the image, and its default classic image store
	// has one platform only.
	var platform *ocispec.Platform
	d.docker.NegotiateAPIVersion(ctx)
	if !dockerversions.LessThan(d.docker.ClientVersion(), platformSaveAPI) {
		v, err := d.docker.ServerVersion(ctx)
		if err != nil {
			return fmt.Errorf("asking Docker for its platform: %w", err)
		}
		platform = &ocispec.Platform{OS: v.Os, Architecture: v.Arch}
	}
	for _, n := range c.Nodes {
		if n.Role != k3d.ServerRole && n.Role != k3d.AgentRole {
			continue
		}
		if err := d.importInto(ctx, n, refs, platform); err != nil {
			return err
		}
	}
	return nil
}

// importInto streams Docker's archive of refs into the node's import.
func (d *dockerEngine) importInto(ctx context.Context, n *k3d.Node, refs []string, platform *ocispec.Platform) error {
	archive, err := d.save(ctx, refs, platform)
	if err != nil {
		return fmt.Errorf("saving %s from Docker: %w", strings.Join(refs, ", "), err)
	}
	// k3d closes the stream once copied, not when the exec fails first.
	defer archive.Close()
	if err := d.nodes.ExecInNodeWithStdin(ctx, n, importCommand, archive); err != nil {
		return fmt.Errorf("importing into node %s: %w", n.Name, err)
	}
	return nil
}

// nodeImageScript asks a node for the image by name: crictl inspecti
// resolves the name through the CRI's ImageStatus (cri-tools v1.35.0
// cmd/crictl/image.go ImageStatus), unlike `crictl images -q REF`, which
// only passes REF as the CRI list filter (ListImages there) that
// containerd's CRI plugin does not apply, so it lists every image; ctr
// lists containerd's image of that exact name with its target digest.
const nodeImageScript = `crictl inspecti -o json "$1" 2>/dev/null; echo ` + scriptMarker + `; ctr -n k8s.io images ls "name==$1" 2>/dev/null; true`

const scriptMarker = "--- ctr ---"

// NodeImage asks the node's container runtime for the image ref: the CRI's
// image ID and names (the config digest, which is Docker's image ID with
// the classic image store) and containerd's image of that name with its
// target digest (Docker's image ID with the containerd image store).
func (d *dockerEngine) NodeImage(ctx context.Context, n *k3d.Node, ref string) (nodeImage, error) {
	r, err := d.nodes.ExecInNodeGetLogs(ctx, n, []string{"sh", "-c", nodeImageScript, "sh", ref})
	if err != nil {
		return nodeImage{}, err
	}
	if r == nil {
		return nodeImage{}, nil
	}
	return parseNodeImage(r, ref)
}

// criImageStatus is the part of `crictl inspecti -o json` read here (the
// CRI's ImageStatusResponse, k8s.io/cri-api).
type criImageStatus struct {
	Status struct {
		ID       string   `json:"id"`
		RepoTags []string `json:"repoTags"`
	} `json:"status"`
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// parseNodeImage reads nodeImageScript's output for ref.
func parseNodeImage(r io.Reader, ref string) (nodeImage, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nodeImage{}, err
	}
	criPart, ctrPart, _ := strings.Cut(string(data), scriptMarker)
	var out nodeImage
	if s := strings.TrimSpace(criPart); s != "" {
		var st criImageStatus
		// crictl prints nothing on stdout when it has no such image; any
		// other output that is not its JSON is reported.
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			return nodeImage{}, fmt.Errorf("reading crictl inspecti %s: %w", ref, err)
		}
		for _, tag := range st.Status.RepoTags {
			if tag == ref && digestRE.MatchString(st.Status.ID) {
				out.CRIID = st.Status.ID
			}
		}
	}
	// ctr prints a header, then REF TYPE DIGEST SIZE PLATFORMS LABELS.
	sc := bufio.NewScanner(strings.NewReader(ctrPart))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == ref && digestRE.MatchString(f[2]) {
			out.ContainerdDigest = f[2]
		}
	}
	return out, nil
}

// Available reports whether a Docker engine answers here, for tests that
// need one and skip otherwise.
func Available(ctx context.Context) error {
	c, err := image.NewClient()
	if err != nil {
		return err
	}
	defer c.Close()
	return newDockerEngine(nil, c).Ping(ctx)
}
