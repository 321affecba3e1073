package k3d

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	k3dclient "github.com/k3d-io/k3d/v5/pkg/client"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/leynos/gitops-local/bootstrap/cluster"
)

// The fakes below stand in for the Docker engine, k3d's runtime and a k3s
// node's containerd, behaving as their sources say they do; each test
// cites the source it reproduces.

// fakeDocker is a Docker engine with one image store.
type fakeDocker struct {
	// containerdStore: Docker's image ID is the digest of the image's
	// index (the containerd image store, default of Docker Desktop 4.34
	// and Docker Engine 29 installs) rather than of its config (the
	// classic store).
	containerdStore bool
	// images by reference: what Docker holds of each.
	images map[string]*fakeImage
	arch   string
	api    string
	// pings are the answers of successive pings (nil: answers).
	pings    []error
	pinged   int
	cgroup   string
	savedFor []*ocispec.Platform
	networks map[string]network.Inspect
}

// fakeImage is an image in Docker: its ID, the platforms its index names
// and those whose layers Docker has. A pulled multi-arch image in the
// containerd store names every platform but has the native one only
// (Docker docs, "containerd image store": `docker pull` fetches the
// native platform's content; the index is kept whole).
type fakeImage struct {
	id, config string
	listed     []string
	has        []string
}

func (f *fakeDocker) Ping(ctx context.Context) (types.Ping, error) {
	f.pinged++
	if len(f.pings) == 0 {
		return types.Ping{}, nil
	}
	err := f.pings[0]
	f.pings = f.pings[1:]
	if errors.Is(err, context.DeadlineExceeded) {
		// An engine that is there but asleep: the request waits out
		// its deadline.
		<-ctx.Done()
		return types.Ping{}, ctx.Err()
	}
	return types.Ping{}, err
}

func (f *fakeDocker) Info(context.Context) (system.Info, error) {
	return system.Info{CgroupVersion: f.cgroup, OperatingSystem: "Rocky Linux 8.10"}, nil
}

func (f *fakeDocker) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Os: "linux", Arch: f.arch}, nil
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	img, ok := f.images[ref]
	if !ok {
		return image.InspectResponse{}, fmt.Errorf("no such image: %s", ref)
	}
	return image.InspectResponse{ID: img.id}, nil
}

// NetworkInspect and NetworkRemove find a network by name and answer a
// not-found error (errdefs) for one that is not there, as Docker does.
func (f *fakeDocker) NetworkInspect(_ context.Context, name string, _ network.InspectOptions) (network.Inspect, error) {
	n, ok := f.networks[name]
	if !ok {
		return network.Inspect{}, cerrdefs.ErrNotFound.WithMessage("network " + name + " not found")
	}
	return n, nil
}

func (f *fakeDocker) NetworkRemove(_ context.Context, name string) error {
	if _, ok := f.networks[name]; !ok {
		return cerrdefs.ErrNotFound.WithMessage("network " + name + " not found")
	}
	delete(f.networks, name)
	return nil
}

func (f *fakeDocker) ClientVersion() string               { return f.api }
func (f *fakeDocker) NegotiateAPIVersion(context.Context) {}
func (f *fakeDocker) DaemonHost() string                  { return "unix:///var/run/docker.sock" }

// archive is what the fake's image save writes: the image's name and IDs,
// the platforms its index names and those whose content it carries.
type archive struct {
	Ref, ID, Config string
	Listed, Blobs   []string
}

// save is Docker's image save (docker/docker v28.5.2
// client/image_save.go): with a platform, only that platform is written
// and named; without one, the index as Docker holds it.
func (f *fakeDocker) save(_ context.Context, refs []string, p *ocispec.Platform) (io.ReadCloser, error) {
	f.savedFor = append(f.savedFor, p)
	img, ok := f.images[refs[0]]
	if !ok {
		return nil, fmt.Errorf("no such image: %s", refs[0])
	}
	a := archive{Ref: refs[0], ID: img.id, Config: img.config, Listed: img.listed, Blobs: img.has}
	if p != nil {
		plat := p.OS + "/" + p.Architecture
		if !slices.Contains(img.has, plat) {
			return nil, fmt.Errorf("image %s has no content for %s", refs[0], plat)
		}
		a.Listed, a.Blobs = []string{plat}, []string{plat}
	}
	data, _ := json.Marshal(a)
	return io.NopCloser(strings.NewReader(string(data))), nil
}

// nodeStore is a k3s node's containerd, k8s.io namespace.
type nodeStore struct {
	platform string
	// images by full name: CRI image ID (config digest) and target digest.
	images map[string][2]string
}

// fakeRuntime is k3d's runtime over the fake Docker: the cluster's
// containers and each node's containerd.
type fakeRuntime struct {
	docker   *fakeDocker
	listErr  error
	nodes    []*k3d.Node
	stores   map[string]*nodeStore
	commands [][]string
}

func (r *fakeRuntime) GetNodesByLabel(_ context.Context, labels map[string]string) ([]*k3d.Node, error) {
	if r.listErr != nil {
		return nil, r.listErr
	}
	var out []*k3d.Node
	for _, n := range r.nodes {
		if n.RuntimeLabels[k3d.LabelClusterName] == labels[k3d.LabelClusterName] {
			out = append(out, n)
		}
	}
	return out, nil
}

// ExecInNodeWithStdin runs `ctr image import` on the node as containerd's
// ctr does (containerd v2 cmd/ctr/commands/images/import.go): with
// --all-platforms every platform the archive names must have its content,
// else the import fails (k3d issue #1538); without it, only the node's
// own platform is imported.
func (r *fakeRuntime) ExecInNodeWithStdin(_ context.Context, n *k3d.Node, cmd []string, stdin io.ReadCloser) error {
	r.commands = append(r.commands, cmd)
	if len(cmd) < 3 || cmd[0] != "ctr" || cmd[1] != "image" || cmd[2] != "import" {
		return fmt.Errorf("unexpected command %v", cmd)
	}
	var a archive
	if err := json.NewDecoder(stdin).Decode(&a); err != nil {
		return err
	}
	st := r.stores[n.Name]
	want := []string{st.platform}
	if slices.Contains(cmd, "--all-platforms") {
		want = a.Listed
	}
	for _, p := range want {
		if !slices.Contains(a.Blobs, p) {
			return fmt.Errorf("ctr: content digest for %s: not found", p)
		}
	}
	st.images[normalize(a.Ref)] = [2]string{a.Config, a.ID}
	return nil
}

// ExecInNodeGetLogs answers the commands the engine runs on a node as
// crictl and ctr do: `crictl images -q REF` lists every image ID (the CRI
// list filter is not applied), `crictl inspecti -o json REF` answers for
// REF only (cri-tools v1.35.0 cmd/crictl/image.go ListImages,
// ImageStatus), `ctr images ls name==REF` lists that name only.
func (r *fakeRuntime) ExecInNodeGetLogs(_ context.Context, n *k3d.Node, cmd []string) (*bufio.Reader, error) {
	r.commands = append(r.commands, cmd)
	st := r.stores[n.Name]
	if len(cmd) != 5 || cmd[0] != "sh" || cmd[1] != "-c" {
		return nil, fmt.Errorf("unexpected command %v", cmd)
	}
	script, ref := cmd[2], cmd[4]
	var b strings.Builder
	if strings.Contains(script, "crictl images") {
		for _, img := range st.images {
			fmt.Fprintln(&b, img[0])
		}
	}
	if strings.Contains(script, "crictl inspecti") {
		if img, ok := st.images[ref]; ok {
			fmt.Fprintf(&b, `{"status":{"id":%q,"repoTags":[%q],"repoDigests":[]},"info":{}}`+"\n", img[0], ref)
		}
	}
	if strings.Contains(script, scriptMarker) {
		fmt.Fprintln(&b, scriptMarker)
	}
	if strings.Contains(script, "ctr -n k8s.io images ls") {
		fmt.Fprintln(&b, "REF TYPE DIGEST SIZE PLATFORMS LABELS")
		if img, ok := st.images[ref]; ok {
			fmt.Fprintf(&b, "%s application/vnd.oci.image.index.v1+json %s 55.0 MiB %s -\n", ref, img[1], st.platform)
		}
	}
	return bufio.NewReader(strings.NewReader(b.String())), nil
}

// fakeK3d is k3d's library over the fake runtime.
type fakeK3d struct {
	rt       *fakeRuntime
	started  *k3d.ClusterStartOpts
	gathered bool
}

// clusterGet is k3d's ClusterGet (v5.8.3 pkg/client/cluster.go): an error
// listing the containers is logged and read as no nodes.
func (k *fakeK3d) clusterGet(ctx context.Context, _ runtimes.Runtime, c *k3d.Cluster) (*k3d.Cluster, error) {
	nodes, err := k.rt.GetNodesByLabel(ctx, map[string]string{k3d.LabelClusterName: c.Name})
	if err != nil || len(nodes) == 0 {
		return nil, k3dclient.ClusterGetNoNodesFoundError
	}
	c.Nodes = nodes
	return c, nil
}

// clusterStart is k3d's ClusterStart (v5.8.3 pkg/client/cluster.go and
// node.go NodeStart): the DNS fix, on unless K3D_FIX_DNS=0, refuses a
// start without the host gateway's IP, and the post-start host alias
// reads EnvironmentInfo.HostGateway (a nil EnvironmentInfo panics).
func (k *fakeK3d) clusterStart(_ context.Context, _ runtimes.Runtime, c *k3d.Cluster, opts k3d.ClusterStartOpts) error {
	k.started = &opts
	if opts.EnvironmentInfo == nil || !opts.EnvironmentInfo.HostGateway.IsValid() {
		return errors.New("Cannot enable DNS fix, as Host Gateway IP is missing!")
	}
	for _, n := range c.Nodes {
		n.State.Running = true
	}
	return nil
}

// gatherEnv is k3d's GatherEnvironmentInfo (v5.8.3
// pkg/client/environment.go): the runtime's information and the host
// gateway's IP, found with the tools container.
func (k *fakeK3d) gatherEnv(context.Context, runtimes.Runtime, *k3d.Cluster) (*k3d.EnvironmentInfo, error) {
	k.gathered = true
	return &k3d.EnvironmentInfo{HostGateway: netip.MustParseAddr("172.18.0.1")}, nil
}

func newFakeEngine(d *fakeDocker, rt *fakeRuntime) (*dockerEngine, *fakeK3d) {
	k := &fakeK3d{rt: rt}
	rt.docker = d
	return &dockerEngine{
		nodes:  rt,
		docker: d,
		lib:    k3dLib{clusterGet: k.clusterGet, clusterStart: k.clusterStart, gatherEnv: k.gatherEnv},
		save:   d.save,
		sleep:  func(context.Context, time.Duration) error { return nil },
	}, k
}

// stoppedCluster is a cluster after `docker stop` or a reboot: its
// containers are there, none runs.
func stoppedCluster(name string) []*k3d.Node {
	var out []*k3d.Node
	for _, n := range newCluster(name, "127.0.0.1", "8081", "k3d-"+name+"-registry", "127.0.0.1", "5055").Nodes {
		n.State.Running = false
		n.RuntimeLabels = map[string]string{k3d.LabelClusterName: name}
		out = append(out, n)
	}
	return out
}

// TestStoppedClusterStartsAsK3dClusterStartDoes: a stopped cluster is
// started with the environment gathered first and the start intent, as
// `k3d cluster start` does (k3d v5.8.3 cmd/cluster/clusterStart.go);
// options built from the labels only fail k3d's DNS fix.
func TestStoppedClusterStartsAsK3dClusterStartDoes(t *testing.T) {
	rt := &fakeRuntime{nodes: stoppedCluster("dev")}
	eng, k := newFakeEngine(&fakeDocker{}, rt)
	p := newTestProvider(t, &fakeEngineOver{dockerEngine: eng}, 0)
	c, err := p.Ensure(context.Background())
	if err != nil {
		t.Fatalf("starting a stopped cluster: %v", err)
	}
	if !k.gathered || k.started == nil {
		t.Fatalf("environment gathered %v, started %v", k.gathered, k.started)
	}
	if k.started.Intent != k3d.IntentClusterStart || !k.started.WaitForServer {
		t.Errorf("start options %+v, want the start intent and waiting for the server", k.started)
	}
	if c.Port != 8081 {
		t.Errorf("cluster %+v", c)
	}
}

// TestDockerErrorIsNotReadAsNoCluster: k3d's ClusterGet turns a Docker
// error into ClusterGetNoNodesFoundError (k3d v5.8.3 pkg/client/cluster.go
// ClusterGet), which must not make up create the cluster again.
func TestDockerErrorIsNotReadAsNoCluster(t *testing.T) {
	rt := &fakeRuntime{nodes: stoppedCluster("dev"), listErr: errors.New("docker failed to get containers: request returned 500 Internal Server Error")}
	eng, _ := newFakeEngine(&fakeDocker{}, rt)
	_, err := eng.Get(context.Background(), "dev")
	if err == nil || errors.Is(err, cluster.ErrNotFound) || !strings.Contains(err.Error(), "500 Internal Server Error") {
		t.Fatalf("Get with Docker failing = %v, want Docker's error, not ErrNotFound", err)
	}
	rt.listErr = nil
	if _, err := eng.Get(context.Background(), "other"); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("Get of a cluster with no containers = %v, want ErrNotFound", err)
	}
}

// TestImportWorksOnBothImageStores imports ghillie:local built locally
// (classic store) and a pulled multi-arch --image (containerd store), and
// checks each node by name and ID.
func TestImportWorksOnBothImageStores(t *testing.T) {
	const (
		config = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		index  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	)
	for _, tc := range []struct {
		name   string
		docker *fakeDocker
	}{
		{"classic store, built here", &fakeDocker{api: "1.51", arch: "amd64", images: map[string]*fakeImage{
			"ghillie:local": {id: config, config: config, listed: []string{"linux/amd64"}, has: []string{"linux/amd64"}}}}},
		{"containerd store, pulled multi-arch", &fakeDocker{containerdStore: true, api: "1.51", arch: "amd64", images: map[string]*fakeImage{
			"ghillie:local": {id: index, config: config, listed: []string{"linux/amd64", "linux/arm64"}, has: []string{"linux/amd64"}}}}},
		{"engine before API 1.48", &fakeDocker{api: "1.47", arch: "amd64", images: map[string]*fakeImage{
			"ghillie:local": {id: config, config: config, listed: []string{"linux/amd64"}, has: []string{"linux/amd64"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := stoppedCluster("dev")
			nodes = append(nodes, &k3d.Node{Name: "k3d-dev-agent-0", Role: k3d.AgentRole, RuntimeLabels: map[string]string{k3d.LabelClusterName: "dev"}})
			for _, n := range nodes {
				n.State.Running = true
			}
			rt := &fakeRuntime{nodes: nodes, stores: map[string]*nodeStore{
				"k3d-dev-server-0": {platform: "linux/amd64", images: map[string][2]string{}},
				"k3d-dev-agent-0":  {platform: "linux/amd64", images: map[string][2]string{}},
			}}
			eng, _ := newFakeEngine(tc.docker, rt)
			p := newTestProvider(t, &fakeEngineOver{dockerEngine: eng}, 0)
			if err := p.ImportImage(context.Background(), "ghillie:local"); err != nil {
				t.Fatalf("import: %v", err)
			}
			for _, pl := range tc.docker.savedFor {
				if tc.docker.api >= "1.48" && (pl == nil || pl.Architecture != "amd64") {
					t.Errorf("saved for %v, want the native platform only", pl)
				}
			}
			if len(tc.docker.savedFor) != 2 {
				t.Errorf("saved %d archives, want one per node", len(tc.docker.savedFor))
			}
		})
	}
}

// TestImportCheckFiltersByName: a node whose ghillie:local is the old
// image fails the check even when it holds the new image's ID under
// another name, which `crictl images -q ghillie:local` would list.
func TestImportCheckFiltersByName(t *testing.T) {
	const (
		newID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		oldID = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	)
	st := &nodeStore{platform: "linux/amd64", images: map[string][2]string{
		"docker.io/library/ghillie:local":   {oldID, oldID},
		"docker.io/library/ghillie:sha-abc": {newID, newID},
	}}
	nodes := stoppedCluster("dev")
	for _, n := range nodes {
		n.State.Running = true
	}
	rt := &fakeRuntime{nodes: nodes, stores: map[string]*nodeStore{"k3d-dev-server-0": st}}
	eng, _ := newFakeEngine(&fakeDocker{}, rt)
	n := nodes[0]

	got, err := eng.NodeImage(context.Background(), n, "docker.io/library/ghillie:local")
	if err != nil {
		t.Fatal(err)
	}
	if got.has(newID) || !got.has(oldID) {
		t.Errorf("node image = %+v: the check must see the old ghillie:local only", got)
	}
	// What the former check ran: it lists the new ID too.
	r, _ := rt.ExecInNodeGetLogs(context.Background(), n, []string{"sh", "-c", "crictl images --no-trunc -q $1", "sh", "docker.io/library/ghillie:local"})
	all, _ := io.ReadAll(r)
	if !strings.Contains(string(all), newID) {
		t.Fatal("the fake's crictl images -q filters by name, unlike crictl")
	}
}

// TestPingWaitsForAWakingEngineButNotForAMissingOne: Docker Desktop in
// Resource Saver keeps its socket and answers late; with no engine the
// connection is refused at once.
func TestPingWaitsForAWakingEngineButNotForAMissingOne(t *testing.T) {
	d := &fakeDocker{pings: []error{context.DeadlineExceeded, context.DeadlineExceeded}}
	eng, _ := newFakeEngine(d, &fakeRuntime{})
	if err := eng.Ping(context.Background()); err != nil || d.pinged != 3 {
		t.Errorf("ping of a waking engine = %v after %d pings, want success on the third", err, d.pinged)
	}
	// The error the Docker client returns when nothing listens on its
	// socket; the constructor is deprecated for callers, not for a fake.
	//lint:ignore SA1019 the fake returns what the real client returns
	d = &fakeDocker{pings: []error{client.ErrorConnectionFailed("unix:///var/run/docker.sock")}}
	eng, _ = newFakeEngine(d, &fakeRuntime{})
	var noDocker *NoDockerError
	if err := eng.Ping(context.Background()); !errors.As(err, &noDocker) || d.pinged != 1 {
		t.Errorf("ping with no engine = %v after %d pings, want NoDockerError at once", err, d.pinged)
	}
}

// fakeEngineOver is the provider's engine over a dockerEngine built on
// the fakes, for the calls that reach k3d's library beyond them.
type fakeEngineOver struct {
	*dockerEngine
}

func (f *fakeEngineOver) Kubeconfig(context.Context, *k3d.Cluster) ([]byte, error) {
	return []byte("apiVersion: v1\nkind: Config\n"), nil
}

// TestLeftoverNetworkIsOnlyK3dsUnusedOne: the network k3d made for the
// cluster (k3d-<name>, label app=k3d) is left when no container uses it;
// a network someone else made, or one in use, is not.
func TestLeftoverNetworkIsOnlyK3dsUnusedOne(t *testing.T) {
	k3dNet := network.Inspect{Name: "k3d-dev", ID: "n1", Labels: map[string]string{"app": "k3d"}}
	used := k3dNet
	used.Containers = map[string]network.EndpointResource{"c1": {Name: "k3d-other-server-0"}}
	theirs := network.Inspect{Name: "k3d-dev", ID: "n2"}
	for _, tc := range []struct {
		name string
		nets map[string]network.Inspect
		want string
	}{
		{"left by a failed create", map[string]network.Inspect{"k3d-dev": k3dNet}, "k3d-dev"},
		{"in use", map[string]network.Inspect{"k3d-dev": used}, ""},
		{"not k3d's", map[string]network.Inspect{"k3d-dev": theirs}, ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, _ := newFakeEngine(&fakeDocker{networks: tc.nets}, &fakeRuntime{})
			got, err := eng.LeftoverNetwork(context.Background(), "dev")
			if err != nil || got != tc.want {
				t.Errorf("leftover network = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
