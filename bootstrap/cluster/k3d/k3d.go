// Package k3d is the cluster provider that runs the preview in a k3d
// cluster: one k3s server at the pinned image, its ingress (k3s's Traefik
// behind k3d's load balancer) on a loopback port, a k3d-managed registry
// bound to loopback and reachable inside the cluster by name, and a
// kubeconfig of its own under gitops-local's state folder.
//
// It drives k3d's Go library (github.com/k3d-io/k3d/v5) and the Docker
// Engine API through the small engine interface, so every decision (ports,
// reuse, mismatches, kubeconfig, image import checks) is tested without
// Docker.
package k3d

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/k3d-io/k3d/v5/pkg/config/types"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// ProviderName names this provider in cluster.Cluster.
const ProviderName = "k3d"

// ingressPort is the port of the cluster's load balancer that serves
// k3s's ingress controller.
const ingressPort = "80/tcp"

// engine is what the provider needs from k3d and Docker.
type engine interface {
	// Ping fails when no Docker engine answers.
	Ping(ctx context.Context) error
	// Host describes the Docker engine.
	Host(ctx context.Context) (hostInfo, error)
	// Get returns the named cluster with its nodes, or an error wrapping
	// cluster.ErrNotFound when it has none; any other error is Docker's.
	Get(ctx context.Context, name string) (*k3d.Cluster, error)
	// Create creates and starts a cluster, waiting for its server.
	Create(ctx context.Context, cfg v1alpha5.SimpleConfig) error
	// Start starts a stopped cluster.
	Start(ctx context.Context, c *k3d.Cluster) error
	// Delete deletes the cluster's nodes (registry included), network and
	// volumes.
	Delete(ctx context.Context, c *k3d.Cluster) error
	// Kubeconfig returns a kubeconfig for the cluster.
	Kubeconfig(ctx context.Context, c *k3d.Cluster) ([]byte, error)
	// ImageID returns the ID of a local Docker image.
	ImageID(ctx context.Context, ref string) (string, error)
	// Import loads local Docker images into the cluster's nodes.
	Import(ctx context.Context, c *k3d.Cluster, refs []string) error
	// LeftoverNetwork is the network k3d made for the cluster name when
	// no container uses it, "" when there is none.
	LeftoverNetwork(ctx context.Context, name string) (string, error)
	// RemoveNetwork removes a network.
	RemoveNetwork(ctx context.Context, name string) error
	// NodeImage is what a node's container runtime has under the image
	// name ref (the full name containerd stores).
	NodeImage(ctx context.Context, n *k3d.Node, ref string) (nodeImage, error)
}

// hostInfo is what the provider checks of the Docker engine.
type hostInfo struct {
	// CgroupVersion is "1" or "2" (docker info's CgroupVersion).
	CgroupVersion string
	// Name is the engine's operating system, for messages.
	Name string
}

// nodeImage is what a node holds under one image name: "" where nothing.
type nodeImage struct {
	// CRIID is the CRI image ID of the image of that name (its config
	// digest: Docker's image ID with the classic image store).
	CRIID string
	// ContainerdDigest is the target digest of containerd's image of that
	// name (Docker's image ID with the containerd image store).
	ContainerdDigest string
}

// has reports whether the node holds the image of that name with ID id.
func (n nodeImage) has(id string) bool {
	return id != "" && (n.CRIID == id || n.ContainerdDigest == id)
}

// Options configure the provider.
type Options struct {
	// Name is the k3d cluster's name; its kubeconfig context is k3d-<Name>.
	Name string
	// Port is the loopback port for the ingress; 0 picks a free one (or, for
	// an existing cluster, the one it has).
	Port int
	// StateDir holds the kubeconfig (see cluster.StateDir).
	StateDir string
	// UserKubeconfig is the user's own kubeconfig ($KUBECONFIG or
	// ~/.kube/config). Ensure adds the cluster's context to it only with
	// MergeKubeconfig; Delete removes that context from it if it is there.
	UserKubeconfig  string
	MergeKubeconfig bool
	// Log receives detail lines.
	Log progress.Logger
	// Docker is the client of the Docker engine, shared with the image
	// build (see image.NewClient); New makes one when it is nil.
	Docker client.APIClient
	// LookupEnv reads the environment; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// Provider creates, reuses and deletes k3d clusters.
type Provider struct {
	opts      Options
	eng       engine
	freePort  func() (int, error)
	checkPort func(int) error
}

var _ cluster.Provider = (*Provider)(nil)

// New returns a provider talking to the Docker engine opts.Docker, else
// the one image.NewClient finds (the current docker context, DOCKER_HOST).
func New(opts Options) (*Provider, error) {
	if opts.Docker == nil {
		c, err := image.NewClient()
		if err != nil {
			return nil, err
		}
		opts.Docker = c
	}
	return newProvider(opts, newDockerEngine(opts.Log, opts.Docker))
}

func newProvider(opts Options, eng engine) (*Provider, error) {
	if err := cluster.ValidateName(opts.Name); err != nil {
		return nil, err
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("invalid --port %d: want 1-65535, or 0 for a free port", opts.Port)
	}
	if opts.StateDir == "" {
		return nil, errors.New("no state folder for the cluster's kubeconfig")
	}
	if opts.Log == nil {
		opts.Log = progress.Discard
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	pinHelperImages()
	return &Provider{opts: opts, eng: eng, freePort: cluster.FreePort, checkPort: cluster.CheckPortFree}, nil
}

// ImageEngine is the Docker engine the cluster runs in, for the image
// build to use the same engine.
func (p *Provider) ImageEngine() image.Engine { return p.opts.Docker }

// Kubeconfig is where the cluster's kubeconfig is written.
func (p *Provider) Kubeconfig() string {
	return cluster.KubeconfigPath(p.opts.StateDir, p.opts.Name)
}

// ContextName is the cluster's context in its kubeconfig: k3d-<name>.
func (p *Provider) ContextName() string {
	return k3d.DefaultObjectNamePrefix + "-" + p.opts.Name
}

// RegistryName is the k3d-managed registry's container name, which is
// also its host name inside the cluster.
func (p *Provider) RegistryName() string {
	return k3d.DefaultObjectNamePrefix + "-" + p.opts.Name + "-registry"
}

// helperImageEnv are the variables with which k3d replaces its pinned
// helper images (k3d v5.8.3 pkg/types/images.go GetLoadbalancerImage,
// GetToolsImage, GetHelperImageVersion; pkg/types/env.go).
var helperImageEnv = []string{k3d.K3dEnvImageLoadbalancer, k3d.K3dEnvImageTools, k3d.K3dEnvImageHelperTag}

// Preflight checks, before anything is created, that Docker answers, that
// its hosts runs cgroup v2, that nothing replaces k3d's pinned helper
// images, and that a requested port is free (unless the cluster already
// has it).
func (p *Provider) Preflight(ctx context.Context) error {
	for _, name := range helperImageEnv {
		if v, ok := p.opts.LookupEnv(name); ok && v != "" {
			return fmt.Errorf("%s=%s is set: k3d would run that image instead of its pinned helper (%s, %s); unset it", name, v, versions.K3dProxyImage, versions.K3dToolsImage)
		}
	}
	if err := p.eng.Ping(ctx); err != nil {
		return err
	}
	host, err := p.eng.Host(ctx)
	if err != nil {
		return err
	}
	if host.CgroupVersion == "1" {
		return &CgroupV1Error{Host: host.Name}
	}
	if p.opts.Port == 0 {
		return nil
	}
	c, err := p.eng.Get(ctx, p.opts.Name)
	if err == nil {
		return p.checkReuse(c)
	}
	if !errors.Is(err, cluster.ErrNotFound) {
		return err
	}
	return p.checkPort(p.opts.Port)
}

// CgroupV1Error says that Docker's host runs cgroup v1, on which the
// pinned k3s cannot run.
type CgroupV1Error struct{ Host string }

func (e *CgroupV1Error) Error() string {
	return fmt.Sprintf("Docker runs on a cgroup v1 host (%s; `docker info` shows Cgroup Version: 1): the kubelet of %s (Kubernetes 1.35 and later) refuses to start on cgroup v1, so the cluster would never be Ready; boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1, the default of current distributions), or deploy to a cluster you already have with --kubeconfig and --registry", e.Host, versions.K3sImage)
}

// checkReuse fails when an existing cluster cannot serve as asked.
func (p *Provider) checkReuse(c *k3d.Cluster) error {
	port, err := ingressHostPort(c)
	if err != nil {
		return err
	}
	if p.opts.Port != 0 && port != p.opts.Port {
		return fmt.Errorf("k3d cluster %q already exists with its ingress on %s:%d, not the requested --port %d: drop --port, or run `gitops-local down --cluster %s` first",
			p.opts.Name, cluster.Loopback, port, p.opts.Port, p.opts.Name)
	}
	return nil
}

// Ensure reuses the cluster when it exists (starting it if stopped) and
// creates it otherwise, then writes its kubeconfig.
func (p *Provider) Ensure(ctx context.Context) (*cluster.Cluster, error) {
	c, err := p.eng.Get(ctx, p.opts.Name)
	created := false
	switch {
	case err == nil:
		if err := p.checkReuse(c); err != nil {
			return nil, err
		}
		if !running(c) {
			p.opts.Log.Infof("starting stopped k3d cluster %s", p.opts.Name)
			if err := p.eng.Start(ctx, c); err != nil {
				return nil, fmt.Errorf("starting k3d cluster %q: %w", p.opts.Name, err)
			}
		} else {
			p.opts.Log.Infof("reusing k3d cluster %s", p.opts.Name)
		}
	case errors.Is(err, cluster.ErrNotFound):
		if c, err = p.create(ctx); err != nil {
			return nil, err
		}
		created = true
	default:
		return nil, err
	}
	out, err := p.describe(c)
	if err != nil {
		return nil, err
	}
	kc, err := p.eng.Kubeconfig(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("getting the kubeconfig of k3d cluster %q: %w", p.opts.Name, err)
	}
	if err := cluster.WriteKubeconfig(out.Kubeconfig, kc); err != nil {
		return nil, err
	}
	out.Created = created
	if p.opts.MergeKubeconfig {
		if p.opts.UserKubeconfig == "" {
			return nil, errors.New("no kubeconfig of yours to merge the cluster's context into: set KUBECONFIG or HOME")
		}
		if _, err := cluster.MergeKubeconfig(p.opts.UserKubeconfig, out.Kubeconfig); err != nil {
			return nil, err
		}
		out.MergedInto = p.opts.UserKubeconfig
	}
	return out, nil
}

// create picks the ports and creates the cluster, deleting what it left
// behind when creation fails.
func (p *Provider) create(ctx context.Context) (*k3d.Cluster, error) {
	ports, err := p.pickPorts()
	if err != nil {
		return nil, err
	}
	p.opts.Log.Infof("creating k3d cluster %s (%s), ingress on %s:%d, registry %s on %s:%d",
		p.opts.Name, versions.K3sImage, cluster.Loopback, ports.ingress, p.RegistryName(), cluster.Loopback, ports.registry)
	if err := p.eng.Create(ctx, p.simpleConfig(ports)); err != nil {
		createErr := fmt.Errorf("creating k3d cluster %q: %w", p.opts.Name, err)
		// Roll back with a context Ctrl-C has not cancelled, so nothing is
		// left half-created.
		rollback, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if c, getErr := p.eng.Get(rollback, p.opts.Name); getErr == nil {
			if delErr := p.eng.Delete(rollback, c); delErr != nil {
				return nil, fmt.Errorf("%w; removing what was created also failed, run `gitops-local down --cluster %s`: %v", createErr, p.opts.Name, delErr)
			}
			return nil, fmt.Errorf("%w (what was created has been removed)", createErr)
		}
		if _, netErr := p.removeLeftoverNetwork(rollback); netErr != nil {
			return nil, fmt.Errorf("%w; removing its network also failed, run `gitops-local down --cluster %s`: %v", createErr, p.opts.Name, netErr)
		}
		return nil, createErr
	}
	c, err := p.eng.Get(ctx, p.opts.Name)
	if err != nil {
		return nil, fmt.Errorf("reading k3d cluster %q after creating it: %w", p.opts.Name, err)
	}
	return c, nil
}

// hostPorts are the loopback ports a new cluster is given.
type hostPorts struct{ ingress, api, registry int }

// pickPorts returns the requested ingress port (checked free) or a free
// one, and free, distinct ports for the API server and the registry.
func (p *Provider) pickPorts() (hostPorts, error) {
	var ports hostPorts
	taken := map[int]bool{}
	pick := func(what string) (int, error) {
		for range 20 {
			port, err := p.freePort()
			if err != nil {
				return 0, err
			}
			if !taken[port] {
				taken[port] = true
				return port, nil
			}
		}
		return 0, fmt.Errorf("no free port on %s for the %s", cluster.Loopback, what)
	}
	var err error
	if p.opts.Port != 0 {
		if err := p.checkPort(p.opts.Port); err != nil {
			return ports, err
		}
		ports.ingress = p.opts.Port
		taken[p.opts.Port] = true
	} else if ports.ingress, err = pick("ingress"); err != nil {
		return ports, err
	}
	if ports.api, err = pick("API server"); err != nil {
		return ports, err
	}
	if ports.registry, err = pick("registry"); err != nil {
		return ports, err
	}
	return ports, nil
}

// simpleConfig is the k3d configuration of a new cluster: everything
// pinned, everything on loopback, the user's kubeconfig left alone.
func (p *Provider) simpleConfig(ports hostPorts) v1alpha5.SimpleConfig {
	return v1alpha5.SimpleConfig{
		TypeMeta:   types.TypeMeta{Kind: "Simple", APIVersion: v1alpha5.ApiVersion},
		ObjectMeta: types.ObjectMeta{Name: p.opts.Name},
		Servers:    1,
		Agents:     0,
		Image:      versions.K3sImage,
		ExposeAPI: v1alpha5.SimpleExposureOpts{
			Host:     cluster.Loopback,
			HostIP:   cluster.Loopback,
			HostPort: strconv.Itoa(ports.api),
		},
		Ports: []v1alpha5.PortWithNodeFilters{{
			Port:        fmt.Sprintf("%s:%d:80", cluster.Loopback, ports.ingress),
			NodeFilters: []string{"loadbalancer"},
		}},
		Registries: v1alpha5.SimpleConfigRegistries{Create: &v1alpha5.SimpleConfigRegistryCreateConfig{
			Name:     p.RegistryName(),
			Host:     cluster.Loopback,
			HostPort: strconv.Itoa(ports.registry),
			Image:    versions.RegistryImage,
		}},
		Options: v1alpha5.SimpleConfigOptions{
			K3dOptions: v1alpha5.SimpleConfigOptionsK3d{Wait: true, Timeout: 5 * time.Minute},
			KubeconfigOptions: v1alpha5.SimpleConfigOptionsKubeconfig{
				UpdateDefaultKubeconfig: false,
				SwitchCurrentContext:    false,
			},
		},
	}
}

// describe reads the ports and registry of a k3d cluster.
func (p *Provider) describe(c *k3d.Cluster) (*cluster.Cluster, error) {
	port, err := ingressHostPort(c)
	if err != nil {
		return nil, err
	}
	reg := registryNode(c)
	if reg == nil {
		return nil, fmt.Errorf("k3d cluster %q has no k3d-managed registry, so it was not created by gitops-local: use another --cluster, or delete it with `gitops-local down --cluster %s`", c.Name, c.Name)
	}
	push, pull, err := registryAddresses(reg)
	if err != nil {
		return nil, err
	}
	return &cluster.Cluster{
		Name:         c.Name,
		Provider:     ProviderName,
		Kubeconfig:   p.Kubeconfig(),
		RegistryPush: push,
		RegistryPull: pull,
		Port:         port,
		URL:          fmt.Sprintf("http://%s/", net.JoinHostPort(cluster.Loopback, strconv.Itoa(port))),
	}, nil
}

// Get returns the cluster without changing anything.
func (p *Provider) Get(ctx context.Context) (*cluster.Cluster, error) {
	if err := p.eng.Ping(ctx); err != nil {
		return nil, err
	}
	c, err := p.eng.Get(ctx, p.opts.Name)
	if err != nil {
		return nil, err
	}
	return p.describe(c)
}

// Describe says what Delete would remove, "" when nothing is there. It
// finds the cluster by name only, so that a cluster up could not use (no
// port for its ingress, no registry, stopped, its kubeconfig gone) is
// still described, with what is wrong with it, and can be deleted.
func (p *Provider) Describe(ctx context.Context) (string, error) {
	if err := p.eng.Ping(ctx); err != nil {
		return "", err
	}
	_, statErr := os.Stat(p.Kubeconfig())
	hasKubeconfig := statErr == nil
	c, err := p.eng.Get(ctx, p.opts.Name)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		net, err := p.eng.LeftoverNetwork(ctx, p.opts.Name)
		if err != nil {
			return "", err
		}
		var left []string
		if net != "" {
			left = append(left, "the Docker network "+net)
		}
		if hasKubeconfig {
			left = append(left, "the kubeconfig "+p.Kubeconfig())
		}
		if len(left) == 0 {
			return "", nil
		}
		return fmt.Sprintf("%s left from k3d cluster %q", strings.Join(left, " and "), p.opts.Name), nil
	case err != nil:
		return "", err
	}
	var problems []string
	if !running(c) {
		problems = append(problems, "stopped")
	}
	if _, err := ingressHostPort(c); err != nil {
		problems = append(problems, "no loopback port for its ingress")
	}
	what := fmt.Sprintf("k3d cluster %q", c.Name)
	if len(problems) > 0 {
		what += " (" + strings.Join(problems, ", ") + ")"
	}
	if reg := registryNode(c); reg == nil {
		what += " without a registry"
	} else if push, _, err := registryAddresses(reg); err == nil {
		what += fmt.Sprintf(" with its registry (%s)", push)
	} else {
		what += fmt.Sprintf(" with its registry %s", reg.Name)
	}
	if hasKubeconfig {
		what += " and kubeconfig " + p.Kubeconfig()
	}
	return what, nil
}

// Delete deletes the cluster with its registry and its kubeconfig. A
// cluster that does not exist is not an error; a kubeconfig left from it
// is still removed.
func (p *Provider) Delete(ctx context.Context) (cluster.Removed, error) {
	var removed cluster.Removed
	if err := p.eng.Ping(ctx); err != nil {
		return removed, err
	}
	c, err := p.eng.Get(ctx, p.opts.Name)
	switch {
	case err == nil:
		if err := p.eng.Delete(ctx, c); err != nil {
			return removed, fmt.Errorf("deleting k3d cluster %q: %w", p.opts.Name, err)
		}
		removed.Cluster = c.Name
		for _, n := range c.Nodes {
			if n.Role == k3d.RegistryRole {
				removed.Registry = n.Name
				continue
			}
			if isTools(n) {
				continue
			}
			removed.Nodes = append(removed.Nodes, n.Name)
		}
	case !errors.Is(err, cluster.ErrNotFound):
		return removed, err
	default:
		net, err := p.removeLeftoverNetwork(ctx)
		if err != nil {
			return removed, err
		}
		removed.Network = net
	}
	path, err := cluster.RemoveKubeconfig(p.Kubeconfig())
	if err != nil {
		return removed, err
	}
	removed.Kubeconfig = path
	if p.opts.UserKubeconfig != "" {
		name := p.ContextName()
		ok, err := cluster.RemoveContext(p.opts.UserKubeconfig, name)
		if err != nil {
			return removed, err
		}
		if ok {
			removed.Context = name + " (" + p.opts.UserKubeconfig + ")"
		}
	}
	return removed, nil
}

// ImportImage imports a local Docker image into every k3s node, then
// checks that each node holds that very image: k3d logs a node's failed
// import but still reports success.
func (p *Provider) ImportImage(ctx context.Context, ref string) error {
	c, err := p.eng.Get(ctx, p.opts.Name)
	if err != nil {
		return err
	}
	id, err := p.eng.ImageID(ctx, ref)
	if err != nil {
		return err
	}
	if err := p.eng.Import(ctx, c, []string{ref}); err != nil {
		return fmt.Errorf("importing %s into k3d cluster %q: %w", ref, p.opts.Name, err)
	}
	name := normalize(ref)
	var missing []string
	nodes := 0
	for _, n := range c.Nodes {
		if n.Role != k3d.ServerRole && n.Role != k3d.AgentRole {
			continue
		}
		nodes++
		got, err := p.eng.NodeImage(ctx, n, name)
		if err != nil {
			return fmt.Errorf("checking %s on node %s: %w", ref, n.Name, err)
		}
		if !got.has(id) {
			missing = append(missing, n.Name)
			continue
		}
		p.opts.Log.Debugf("node %s has %s (%s)", n.Name, name, id)
	}
	if nodes == 0 {
		return fmt.Errorf("k3d cluster %q has no server or agent node to import %s into", p.opts.Name, ref)
	}
	if len(missing) > 0 {
		return fmt.Errorf("importing %s into k3d cluster %q: node(s) %s do not have image %s after the import (run with -v for k3d's log)",
			ref, p.opts.Name, strings.Join(missing, ", "), id)
	}
	return nil
}

// removeLeftoverNetwork removes the network a failed create left behind,
// returning its name ("" when there was none).
func (p *Provider) removeLeftoverNetwork(ctx context.Context) (string, error) {
	net, err := p.eng.LeftoverNetwork(ctx, p.opts.Name)
	if err != nil || net == "" {
		return "", err
	}
	return net, p.eng.RemoveNetwork(ctx, net)
}

// running reports whether every node of the cluster runs.
func running(c *k3d.Cluster) bool {
	nodes := 0
	for _, n := range c.Nodes {
		if isTools(n) {
			continue
		}
		nodes++
		if !n.State.Running {
			return false
		}
	}
	return nodes > 0
}

// isTools reports whether n is k3d's short-lived tools container
// (k3d-<name>-tools, role noRole: k3d v5.8.3 pkg/client/tools.go
// runToolsNode). k3d deletes it once done, but Docker Desktop can leave
// it behind, stopped; it is no part of the running cluster.
func isTools(n *k3d.Node) bool {
	return n.Role == k3d.NoRole && strings.HasSuffix(n.Name, "-tools")
}

// ingressHostPort is the loopback port the cluster's load balancer maps
// to its port 80.
func ingressHostPort(c *k3d.Cluster) (int, error) {
	for _, n := range c.Nodes {
		if n.Role != k3d.LoadBalancerRole {
			continue
		}
		for _, b := range n.Ports[nat.Port(ingressPort)] {
			port, err := strconv.Atoi(b.HostPort)
			if err != nil || port == 0 {
				continue
			}
			if b.HostIP != cluster.Loopback {
				return 0, fmt.Errorf("k3d cluster %q maps its ingress to %s:%d, beyond loopback; gitops-local only uses clusters bound to %s: delete it with `gitops-local down --cluster %s`",
					c.Name, b.HostIP, port, cluster.Loopback, c.Name)
			}
			return port, nil
		}
	}
	return 0, fmt.Errorf("k3d cluster %q maps no host port to its load balancer's port 80, so its ingress cannot be reached: delete it with `gitops-local down --cluster %s` and run up again", c.Name, c.Name)
}

// registryNode is the cluster's k3d-managed registry, or nil.
func registryNode(c *k3d.Cluster) *k3d.Node {
	for _, n := range c.Nodes {
		if n.Role == k3d.RegistryRole {
			return n
		}
	}
	return nil
}

// registryAddresses are the registry's address from this machine (its
// loopback port) and from inside the cluster (its name and port).
func registryAddresses(n *k3d.Node) (push, pull string, err error) {
	for port, bindings := range n.Ports {
		for _, b := range bindings {
			if b.HostPort == "" {
				continue
			}
			host := b.HostIP
			if host == "" || host == "0.0.0.0" {
				host = cluster.Loopback
			}
			return net.JoinHostPort(host, b.HostPort), net.JoinHostPort(n.Name, port.Port()), nil
		}
	}
	return "", "", fmt.Errorf("registry %s publishes no port on this machine", n.Name)
}

// normalize turns a short image reference (ghillie:local) into the full
// name containerd stores (docker.io/library/ghillie:local).
func normalize(ref string) string {
	name := ref
	first, _, hasSlash := strings.Cut(ref, "/")
	if !hasSlash {
		name = "docker.io/library/" + ref
	} else if !strings.ContainsAny(first, ".:") && first != "localhost" {
		name = "docker.io/" + ref
	}
	return name
}
