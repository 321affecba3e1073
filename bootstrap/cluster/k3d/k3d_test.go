package k3d

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-connections/nat"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// fakeEngine stands in for Docker and k3d, which cannot run here. It keeps
// one cluster in memory and records what was asked of it.
type fakeEngine struct {
	pingErr   error
	cluster   *k3d.Cluster
	createErr error
	// created holds the configuration Create was given.
	created    *v1alpha5.SimpleConfig
	started    bool
	deleted    bool
	imported   []string
	imageID    string
	imageErr   error
	nodeImages map[string][]string // node name -> digests it reports
	kubeconfig []byte
	cgroup     string
	// network is the leftover network k3d-<name>, "" when none;
	// createNothing makes Create fail before any container exists.
	network       string
	createNothing bool
}

func (f *fakeEngine) Ping(context.Context) error { return f.pingErr }

func (f *fakeEngine) Host(context.Context) (hostInfo, error) {
	return hostInfo{CgroupVersion: f.cgroup, Name: "Ubuntu 20.04"}, nil
}

func (f *fakeEngine) Get(_ context.Context, name string) (*k3d.Cluster, error) {
	if f.cluster == nil || f.cluster.Name != name {
		return nil, fmt.Errorf("k3d cluster %q: %w", name, cluster.ErrNotFound)
	}
	return f.cluster, nil
}

func (f *fakeEngine) Create(_ context.Context, cfg v1alpha5.SimpleConfig) error {
	f.created = &cfg
	if f.createNothing {
		// k3d creates the network first (v5.8.3 pkg/client/cluster.go
		// ClusterPrepNetwork) and can fail before any container.
		f.network = "k3d-" + cfg.Name
		return f.createErr
	}
	// A failed creation leaves a half-made cluster behind, as k3d can.
	f.cluster = clusterFrom(cfg)
	return f.createErr
}

func (f *fakeEngine) LeftoverNetwork(context.Context, string) (string, error) {
	if f.cluster != nil {
		return "", nil
	}
	return f.network, nil
}

func (f *fakeEngine) RemoveNetwork(_ context.Context, name string) error {
	if name != f.network {
		return fmt.Errorf("no network %s", name)
	}
	f.network = ""
	return nil
}

func (f *fakeEngine) Start(context.Context, *k3d.Cluster) error {
	f.started = true
	for _, n := range f.cluster.Nodes {
		n.State.Running = true
	}
	return nil
}

func (f *fakeEngine) Delete(context.Context, *k3d.Cluster) error {
	f.deleted = true
	f.cluster = nil
	return nil
}

func (f *fakeEngine) Kubeconfig(context.Context, *k3d.Cluster) ([]byte, error) {
	return f.kubeconfig, nil
}

func (f *fakeEngine) ImageID(_ context.Context, ref string) (string, error) {
	return f.imageID, f.imageErr
}

func (f *fakeEngine) Import(_ context.Context, _ *k3d.Cluster, refs []string) error {
	f.imported = append(f.imported, refs...)
	return nil
}

// NodeImage reports the node's ghillie:local by the first digest listed
// for it: the ID under that name.
func (f *fakeEngine) NodeImage(_ context.Context, n *k3d.Node, ref string) (nodeImage, error) {
	if ref != "docker.io/library/ghillie:local" {
		return nodeImage{}, fmt.Errorf("unexpected ref %q", ref)
	}
	var out nodeImage
	if d := f.nodeImages[n.Name]; len(d) > 0 {
		out.CRIID = d[len(d)-1]
	}
	return out, nil
}

// clusterFrom is the cluster k3d would make from cfg: a server, a load
// balancer publishing the ingress port and a registry.
func clusterFrom(cfg v1alpha5.SimpleConfig) *k3d.Cluster {
	parts := strings.Split(cfg.Ports[0].Port, ":") // 127.0.0.1:PORT:80
	reg := cfg.Registries.Create
	return newCluster(cfg.Name, parts[0], parts[1], reg.Name, reg.Host, reg.HostPort)
}

func newCluster(name, lbIP, lbPort, regName, regIP, regPort string) *k3d.Cluster {
	return &k3d.Cluster{Name: name, Nodes: []*k3d.Node{
		{Name: "k3d-" + name + "-server-0", Role: k3d.ServerRole, State: k3d.NodeState{Running: true}},
		{Name: "k3d-" + name + "-serverlb", Role: k3d.LoadBalancerRole, State: k3d.NodeState{Running: true},
			Ports: nat.PortMap{"80/tcp": {{HostIP: lbIP, HostPort: lbPort}}, "6443/tcp": {{HostIP: "127.0.0.1", HostPort: "40001"}}}},
		{Name: regName, Role: k3d.RegistryRole, State: k3d.NodeState{Running: true},
			Ports: nat.PortMap{"5000/tcp": {{HostIP: regIP, HostPort: regPort}}}},
	}}
}

// ports hands out the given ports in turn, as FreePort would.
func ports(p ...int) func() (int, error) {
	return func() (int, error) {
		if len(p) == 0 {
			return 0, errors.New("out of ports")
		}
		next := p[0]
		p = p[1:]
		return next, nil
	}
}

func newTestProvider(t *testing.T, eng engine, port int) *Provider {
	t.Helper()
	p, err := newProvider(Options{Name: "dev", Port: port, StateDir: t.TempDir(), LookupEnv: func(string) (string, bool) { return "", false }}, eng)
	if err != nil {
		t.Fatal(err)
	}
	p.freePort = ports(31001, 31001, 31002, 31003) // a repeat must be skipped
	p.checkPort = func(int) error { return nil }
	return p
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"empty name", Options{StateDir: "x"}, "must not be empty"},
		{"upper case", Options{Name: "Dev", StateDir: "x"}, `invalid cluster name "Dev"`},
		{"underscore", Options{Name: "my_dev", StateDir: "x"}, `invalid cluster name "my_dev"`},
		{"too long", Options{Name: strings.Repeat("a", 33), StateDir: "x"}, "longer than 32"},
		{"port", Options{Name: "dev", Port: 70000, StateDir: "x"}, "invalid --port 70000"},
		{"no state", Options{Name: "dev"}, "no state folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newProvider(tc.opts, &fakeEngine{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestHelperImagesArePinned(t *testing.T) {
	if _, err := newProvider(Options{Name: "dev", StateDir: "x"}, &fakeEngine{}); err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		k3d.GetLoadbalancerImage(): versions.K3dProxyImage,
		k3d.GetToolsImage():        versions.K3dToolsImage,
	} {
		if got != want {
			t.Errorf("helper image = %s, want %s", got, want)
		}
	}
}

func TestEnsureCreatesPinnedLoopbackCluster(t *testing.T) {
	eng := &fakeEngine{kubeconfig: []byte("apiVersion: v1\nkind: Config\n")}
	p := newTestProvider(t, eng, 0)
	c, err := p.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := eng.created
	if cfg == nil {
		t.Fatal("no cluster was created")
	}
	if cfg.Image != versions.K3sImage || strings.Contains(cfg.Image, "latest") {
		t.Errorf("k3s image = %q, want %q", cfg.Image, versions.K3sImage)
	}
	if cfg.Servers != 1 || cfg.Agents != 0 {
		t.Errorf("servers/agents = %d/%d, want 1/0", cfg.Servers, cfg.Agents)
	}
	// Three distinct free ports: ingress, API server, registry; the
	// repeated 31001 is skipped.
	if got := cfg.Ports[0]; got.Port != "127.0.0.1:31001:80" || got.NodeFilters[0] != "loadbalancer" {
		t.Errorf("ingress port mapping = %+v, want 127.0.0.1:31001:80 on the load balancer", got)
	}
	if cfg.ExposeAPI.HostIP != "127.0.0.1" || cfg.ExposeAPI.HostPort != "31002" {
		t.Errorf("API server exposed on %s:%s, want 127.0.0.1:31002", cfg.ExposeAPI.HostIP, cfg.ExposeAPI.HostPort)
	}
	reg := cfg.Registries.Create
	if reg == nil || reg.Name != "k3d-dev-registry" || reg.Host != "127.0.0.1" || reg.HostPort != "31003" || reg.Image != versions.RegistryImage {
		t.Errorf("registry = %+v, want k3d-dev-registry on 127.0.0.1:31003 with %s", reg, versions.RegistryImage)
	}
	if cfg.Options.KubeconfigOptions.UpdateDefaultKubeconfig || cfg.Options.KubeconfigOptions.SwitchCurrentContext {
		t.Error("the user's default kubeconfig must not be touched")
	}
	want := cluster.Cluster{
		Name: "dev", Provider: "k3d", Kubeconfig: p.Kubeconfig(),
		RegistryPush: "127.0.0.1:31003", RegistryPull: "k3d-dev-registry:5000",
		Port: 31001, URL: "http://127.0.0.1:31001/", Created: true,
	}
	if *c != want {
		t.Errorf("cluster = %+v\nwant      %+v", *c, want)
	}
	assertKubeconfig(t, c.Kubeconfig, eng.kubeconfig)
}

func assertKubeconfig(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("kubeconfig = %q, want %q", got, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode = %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("kubeconfig folder mode = %v, want 0700", di.Mode().Perm())
	}
	if !strings.HasSuffix(path, filepath.Join("clusters", "dev", "kubeconfig")) {
		t.Errorf("kubeconfig path = %s, want it under clusters/dev/", path)
	}
}

func TestEnsureUsesRequestedPort(t *testing.T) {
	eng := &fakeEngine{}
	p := newTestProvider(t, eng, 8089)
	var checked []int
	p.checkPort = func(port int) error { checked = append(checked, port); return nil }
	c, err := p.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8089 || eng.created.Ports[0].Port != "127.0.0.1:8089:80" {
		t.Errorf("ingress on %d (%s), want the requested 8089", c.Port, eng.created.Ports[0].Port)
	}
	if len(checked) != 1 || checked[0] != 8089 {
		t.Errorf("checked ports %v, want [8089]", checked)
	}
}

func TestRequestedPortInUseStopsBeforeCreating(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	eng := &fakeEngine{}
	p := newTestProvider(t, eng, busy)
	p.checkPort = cluster.CheckPortFree // the real check, on a port in use
	for name, run := range map[string]func() error{
		"preflight": func() error { return p.Preflight(context.Background()) },
		"ensure":    func() error { _, err := p.Ensure(context.Background()); return err },
	} {
		err := run()
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is not free", busy)) {
			t.Errorf("%s: error = %v, want port %d not free", name, err, busy)
		}
	}
	if eng.created != nil {
		t.Error("a cluster was created although its port is taken")
	}
}

func TestEnsureReusesExistingCluster(t *testing.T) {
	for _, tc := range []struct {
		name    string
		port    int
		stopped bool
		wantErr string
	}{
		{name: "port recovered", port: 0},
		{name: "same port", port: 8081},
		{name: "stopped cluster started", stopped: true},
		{name: "different port", port: 9000, wantErr: "already exists with its ingress on 127.0.0.1:8081, not the requested --port 9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeEngine{cluster: newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")}
			if tc.stopped {
				eng.cluster.Nodes[0].State.Running = false
			}
			p := newTestProvider(t, eng, tc.port)
			if tc.wantErr != "" {
				if err := p.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("preflight error = %v, want %q", err, tc.wantErr)
				}
			}
			c, err := p.Ensure(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eng.created != nil {
				t.Error("an existing cluster was created again")
			}
			if eng.started != tc.stopped {
				t.Errorf("started = %v, want %v", eng.started, tc.stopped)
			}
			if c.Port != 8081 || c.URL != "http://127.0.0.1:8081/" || c.Created {
				t.Errorf("cluster = %+v, want port 8081 recovered and Created false", c)
			}
			if c.RegistryPush != "127.0.0.1:5055" || c.RegistryPull != "k3d-dev-registry:5000" {
				t.Errorf("registry = %s / %s", c.RegistryPush, c.RegistryPull)
			}
		})
	}
}

func TestEnsureRefusesClustersItDidNotMake(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster *k3d.Cluster
		want    string
	}{
		{"ingress beyond loopback", newCluster("dev", "0.0.0.0", "8081", "k3d-dev-registry", "127.0.0.1", "5055"), "beyond loopback"},
		{"no registry", func() *k3d.Cluster {
			c := newCluster("dev", "127.0.0.1", "8081", "r", "127.0.0.1", "5055")
			c.Nodes = c.Nodes[:2]
			return c
		}(), "has no k3d-managed registry"},
		{"no ingress port", func() *k3d.Cluster {
			c := newCluster("dev", "127.0.0.1", "8081", "r", "127.0.0.1", "5055")
			delete(c.Nodes[1].Ports, "80/tcp")
			return c
		}(), "maps no host port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeEngine{cluster: tc.cluster}
			_, err := newTestProvider(t, eng, 0).Ensure(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFailedCreateIsRolledBack(t *testing.T) {
	eng := &fakeEngine{createErr: errors.New("k3s server did not start")}
	p := newTestProvider(t, eng, 0)
	_, err := p.Ensure(context.Background())
	if err == nil || !strings.Contains(err.Error(), "k3s server did not start") || !strings.Contains(err.Error(), "has been removed") {
		t.Fatalf("error = %v", err)
	}
	if !eng.deleted || eng.cluster != nil {
		t.Error("the half-created cluster was not deleted")
	}
	if _, err := os.Stat(p.Kubeconfig()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a kubeconfig was written for a failed cluster: %v", err)
	}
}

func TestPreflightNeedsDocker(t *testing.T) {
	eng := &fakeEngine{pingErr: &NoDockerError{Host: "unix:///var/run/docker.sock", Err: errors.New("connection refused")}}
	p := newTestProvider(t, eng, 0)
	err := p.Preflight(context.Background())
	var noDocker *NoDockerError
	if !errors.As(err, &noDocker) {
		t.Fatalf("error = %v, want NoDockerError", err)
	}
}

func TestRealEngineWithoutDockerFailsWithAdvice(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	err := Available(context.Background())
	var noDocker *NoDockerError
	if !errors.As(err, &noDocker) {
		t.Fatalf("error = %v, want NoDockerError", err)
	}
	for _, want := range []string{"no-docker.sock", "start Docker", "--kubeconfig and --registry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestDeleteRemovesClusterRegistryAndKubeconfig(t *testing.T) {
	eng := &fakeEngine{cluster: newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055"), kubeconfig: []byte("kc")}
	p := newTestProvider(t, eng, 0)
	if _, err := p.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	removed, err := p.Delete(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !eng.deleted || removed.Cluster != "dev" || removed.Registry != "k3d-dev-registry" || removed.Kubeconfig != p.Kubeconfig() {
		t.Errorf("removed = %+v", removed)
	}
	if len(removed.Nodes) != 2 {
		t.Errorf("removed nodes = %v, want server and load balancer", removed.Nodes)
	}
	if _, err := os.Stat(p.Kubeconfig()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig still there: %v", err)
	}

	// Again: nothing is left, and that is not an error.
	removed, err = p.Delete(context.Background())
	if err != nil || !removed.Empty() {
		t.Errorf("second delete = %+v, %v; want nothing removed and no error", removed, err)
	}
}

func TestImportImageIsVerifiedOnEveryNode(t *testing.T) {
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const old = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	for _, tc := range []struct {
		name    string
		nodes   map[string][]string
		imgErr  error
		wantErr string
	}{
		{name: "every node has it", nodes: map[string][]string{"k3d-dev-server-0": {old, id}, "k3d-dev-agent-0": {id}}},
		{name: "a node kept the old image", nodes: map[string][]string{"k3d-dev-server-0": {id}, "k3d-dev-agent-0": {old}},
			wantErr: "node(s) k3d-dev-agent-0 do not have image " + id},
		{name: "no node has it", nodes: map[string][]string{},
			wantErr: "node(s) k3d-dev-server-0, k3d-dev-agent-0 do not have"},
		{name: "image not built", imgErr: errors.New("image ghillie:local is not in Docker"), wantErr: "is not in Docker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")
			c.Nodes = append(c.Nodes, &k3d.Node{Name: "k3d-dev-agent-0", Role: k3d.AgentRole})
			eng := &fakeEngine{cluster: c, imageID: id, imageErr: tc.imgErr, nodeImages: tc.nodes}
			err := newTestProvider(t, eng, 0).ImportImage(context.Background(), "ghillie:local")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(eng.imported) != 1 || eng.imported[0] != "ghillie:local" {
					t.Errorf("imported %v", eng.imported)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseNodeImage reads crictl inspecti's JSON and ctr's listing as
// they print them (cri-tools v1.35.0 cmd/crictl/image.go; containerd's
// ctr images ls), taking IDs only for the name asked.
func TestParseNodeImage(t *testing.T) {
	id := "sha256:" + strings.Repeat("a", 64)
	manifest := "sha256:" + strings.Repeat("b", 64)
	ref := "docker.io/library/ghillie:local"
	out := `{"status":{"id":"` + id + `","repoTags":["` + ref + `"],"repoDigests":[]},"info":{}}` + "\n" +
		scriptMarker + "\n" +
		"REF                             TYPE                                                 DIGEST      SIZE     PLATFORMS   LABELS\r\n" +
		ref + " application/vnd.oci.image.manifest.v1+json " + manifest + " 55.0 MiB linux/amd64 -\r\n"
	got, err := parseNodeImage(strings.NewReader(out), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.CRIID != id || got.ContainerdDigest != manifest {
		t.Errorf("node image = %+v, want CRI %s, containerd %s", got, id, manifest)
	}
	got, err = parseNodeImage(strings.NewReader(out), "docker.io/library/other:local")
	if err != nil || got.has(id) || got.has(manifest) {
		t.Errorf("another name = %+v, %v; want nothing", got, err)
	}
	if _, err := parseNodeImage(strings.NewReader("FATA[0000] not json\n"+scriptMarker), ref); err == nil {
		t.Error("crictl output that is not its JSON was accepted")
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"ghillie:local":                  "docker.io/library/ghillie:local",
		"leynos/ghillie:sha-1":           "docker.io/leynos/ghillie:sha-1",
		"ghcr.io/leynos/ghillie:sha-1":   "ghcr.io/leynos/ghillie:sha-1",
		"localhost/ghillie:local":        "localhost/ghillie:local",
		"127.0.0.1:5000/ghillie:" + "v1": "127.0.0.1:5000/ghillie:v1",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestK3dPinMatchesGoMod keeps the helper images' tag (versions.K3d) equal
// to the k3d library the tool is built with.
func TestK3dPinMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/k3d-io/k3d/v5" {
			if f[1] != versions.K3d {
				t.Errorf("go.mod requires k3d %s, versions.K3d is %s: keep them equal", f[1], versions.K3d)
			}
			return
		}
	}
	t.Error("go.mod does not require github.com/k3d-io/k3d/v5")
}

// TestKubeconfigMergedOnlyWhenAsked: the user's kubeconfig is touched only
// with MergeKubeconfig, keeps its current context, and loses the merged
// context again when the cluster is deleted.
func TestKubeconfigMergedOnlyWhenAsked(t *testing.T) {
	const own = "apiVersion: v1\nkind: Config\nclusters: [{name: work, cluster: {server: \"https://127.0.0.1:6443\"}}]\nusers: [{name: me, user: {}}]\ncontexts: [{name: work, context: {cluster: work, user: me}}]\ncurrent-context: work\n"
	const k3dKubeconfig = "apiVersion: v1\nkind: Config\nclusters: [{name: k3d-dev, cluster: {server: \"https://127.0.0.1:31002\"}}]\nusers: [{name: admin@k3d-dev, user: {}}]\ncontexts: [{name: k3d-dev, context: {cluster: k3d-dev, user: admin@k3d-dev}}]\ncurrent-context: k3d-dev\n"
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			user := filepath.Join(t.TempDir(), "config")
			if err := os.WriteFile(user, []byte(own), 0o600); err != nil {
				t.Fatal(err)
			}
			eng := &fakeEngine{kubeconfig: []byte(k3dKubeconfig)}
			p, err := newProvider(Options{Name: "dev", StateDir: t.TempDir(), UserKubeconfig: user, MergeKubeconfig: merge}, eng)
			if err != nil {
				t.Fatal(err)
			}
			p.freePort = ports(31001, 31002, 31003)
			c, err := p.Ensure(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(user)
			if got := strings.Contains(string(data), "k3d-dev"); got != merge {
				t.Errorf("user kubeconfig holds k3d-dev = %v, want %v:\n%s", got, merge, data)
			}
			if !strings.Contains(string(data), "current-context: work") {
				t.Errorf("the user's current context changed:\n%s", data)
			}
			if (c.MergedInto == user) != merge {
				t.Errorf("MergedInto = %q", c.MergedInto)
			}
			removed, err := p.Delete(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if (removed.Context != "") != merge {
				t.Errorf("removed context = %q, want one only when it was merged", removed.Context)
			}
			data, _ = os.ReadFile(user)
			if strings.Contains(string(data), "k3d-dev") || !strings.Contains(string(data), "name: work") {
				t.Errorf("after delete the user's kubeconfig is:\n%s", data)
			}
		})
	}
}

// TestPreflightRefusesCgroupV1: Docker reports the host's cgroup version
// (docker info CgroupVersion, which k3d reads in v5.8.3
// pkg/runtimes/docker/info.go); the kubelet of Kubernetes 1.35 and later
// refuses cgroup v1 unless told otherwise (KubeletConfiguration
// failCgroupV1, default true since 1.35), so up stops before creating
// anything.
func TestPreflightRefusesCgroupV1(t *testing.T) {
	eng := &fakeEngine{cgroup: "1"}
	err := newTestProvider(t, eng, 0).Preflight(context.Background())
	var v1 *CgroupV1Error
	if !errors.As(err, &v1) || !strings.Contains(err.Error(), "cgroup v2") {
		t.Fatalf("preflight on cgroup v1 = %v, want CgroupV1Error", err)
	}
	if eng.created != nil {
		t.Error("a cluster was created on cgroup v1")
	}
	eng.cgroup = "2"
	if err := newTestProvider(t, eng, 0).Preflight(context.Background()); err != nil {
		t.Errorf("preflight on cgroup v2 = %v", err)
	}
}

// TestPreflightRefusesHelperImageOverrides: k3d replaces its pinned
// helper images with K3D_IMAGE_LOADBALANCER, K3D_IMAGE_TOOLS and
// K3D_HELPER_IMAGE_TAG (k3d v5.8.3 pkg/types/images.go), which would run
// unpinned images silently.
func TestPreflightRefusesHelperImageOverrides(t *testing.T) {
	for _, name := range []string{"K3D_IMAGE_LOADBALANCER", "K3D_IMAGE_TOOLS", "K3D_HELPER_IMAGE_TAG"} {
		p := newTestProvider(t, &fakeEngine{}, 0)
		p.opts.LookupEnv = func(k string) (string, bool) {
			if k == name {
				return "example.com/other:latest", true
			}
			return "", false
		}
		err := p.Preflight(context.Background())
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s set: preflight = %v, want it refused by name", name, err)
		}
	}
}

// TestLeftoverToolsContainerIsNoPartOfTheCluster: k3d's tools container
// (k3d-<name>-tools, role noRole, labelled with the cluster: k3d v5.8.3
// pkg/client/tools.go runToolsNode) can be left behind stopped; the
// cluster is still running and down does not list it as a node.
func TestLeftoverToolsContainerIsNoPartOfTheCluster(t *testing.T) {
	c := newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")
	c.Nodes = append(c.Nodes, &k3d.Node{Name: "k3d-dev-tools", Role: k3d.NoRole})
	eng := &fakeEngine{cluster: c, kubeconfig: []byte("kc")}
	p := newTestProvider(t, eng, 0)
	if _, err := p.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if eng.started {
		t.Error("a running cluster with a stopped tools container was started again")
	}
	removed, err := p.Delete(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(removed.Nodes, "k3d-dev-tools") {
		t.Errorf("down lists the tools container as a node: %v", removed.Nodes)
	}
}

// TestNetworkLeftByAFailedCreateIsRemoved: a create that fails before any
// container exists leaves k3d's network; the rollback removes it, and
// down finds and removes one left from an earlier run.
func TestNetworkLeftByAFailedCreateIsRemoved(t *testing.T) {
	eng := &fakeEngine{createErr: errors.New("pulling image: timeout"), createNothing: true}
	p := newTestProvider(t, eng, 0)
	if _, err := p.Ensure(context.Background()); err == nil {
		t.Fatal("create succeeded")
	}
	if eng.network != "" {
		t.Errorf("network %s left after the rollback", eng.network)
	}

	eng.network = "k3d-dev"
	what, err := p.Describe(context.Background())
	if err != nil || !strings.Contains(what, "Docker network k3d-dev") {
		t.Errorf("down would delete %q (%v), want the leftover network named", what, err)
	}
	removed, err := p.Delete(context.Background())
	if err != nil || removed.Network != "k3d-dev" || eng.network != "" {
		t.Errorf("delete = %+v, %v; network left %q", removed, err, eng.network)
	}
}
