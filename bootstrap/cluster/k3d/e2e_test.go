package k3d

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	k3d "github.com/k3d-io/k3d/v5/pkg/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// requireDocker skips the test where no Docker engine answers: k3d runs
// its nodes as Docker containers.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the end-to-end test that creates a real k3d cluster")
	}
	if err := Available(context.Background()); err != nil {
		t.Skipf("skipping: this end-to-end test creates a real k3d cluster and needs a Docker engine: %v", err)
	}
}

// TestK3dEndToEnd creates a real k3d cluster, reuses it, imports an image
// into it and deletes it, checking what up and down rely on at each step.
func TestK3dEndToEnd(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	name := fmt.Sprintf("gl-e2e-%d", time.Now().Unix()%100000)
	state := t.TempDir()
	p, err := New(Options{Name: name, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := p.Delete(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("cleaning up k3d cluster %s: %v", name, err)
		}
	})
	if err := p.Preflight(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created || c.Port == 0 || !strings.HasPrefix(c.URL, "http://127.0.0.1:") {
		t.Errorf("cluster = %+v, want a new cluster with its ingress on 127.0.0.1", c)
	}

	// The kubeconfig is private and reaches a Ready node of the pinned k3s.
	fi, err := os.Stat(c.Kubeconfig)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v, mode %v; want 0600", c.Kubeconfig, err, fi.Mode())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		t.Errorf("API server %s, want it on 127.0.0.1", cfg.Host)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	waitNodeReady(ctx, t, cs)
	nodes, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	// docker.io/rancher/k3s:v1.36.1-k3s1 runs kubelet v1.36.1+k3s1.
	tag := versions.K3sImage[strings.LastIndex(versions.K3sImage, ":")+1:]
	if got := nodes.Items[0].Status.NodeInfo.KubeletVersion; got != strings.Replace(tag, "-k3s", "+k3s", 1) {
		t.Errorf("kubelet %s, want the pinned %s", got, versions.K3sImage)
	}

	// The registry answers on loopback; inside the cluster it is named.
	resp, err := http.Get("http://" + c.RegistryPush + "/v2/")
	if err != nil {
		t.Fatalf("registry %s: %v", c.RegistryPush, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(c.RegistryPush, "127.0.0.1:") || c.RegistryPull != "k3d-"+name+"-registry:5000" {
		t.Errorf("registry %s (in cluster %s) answered %d", c.RegistryPush, c.RegistryPull, resp.StatusCode)
	}

	// Reuse: the same cluster and port; a different --port is refused.
	again, err := p.Ensure(ctx)
	if err != nil || again.Created || again.Port != c.Port {
		t.Errorf("reuse = %+v, %v; want port %d and Created false", again, err, c.Port)
	}
	other, err := New(Options{Name: name, StateDir: state, Port: c.Port + 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Preflight(ctx); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a different --port on an existing cluster: %v", err)
	}

	// Stop every container, as a reboot or `docker stop` does; up starts
	// the cluster again as `k3d cluster start` does.
	docker, err := image.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	ctrs, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", k3d.LabelClusterName+"="+name))})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range ctrs {
		if err := docker.ContainerStop(ctx, ctr.ID, container.StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	restarted, err := p.Ensure(ctx)
	if err != nil {
		t.Fatalf("starting the stopped cluster: %v", err)
	}
	if restarted.Created || restarted.Port != c.Port {
		t.Errorf("restart = %+v, want the same cluster on port %d", restarted, c.Port)
	}
	waitNodeReady(ctx, t, cs)

	// Import images Docker already has under new names, and find each on
	// the node by name and ID: k3d's proxy image and the registry image,
	// both multi-arch images pulled to create the cluster (with the
	// containerd image store Docker holds their native platform only).
	for i, pulled := range []string{versions.K3dProxyImage, versions.RegistryImage} {
		ref := fmt.Sprintf("gitops-local-e2e-%d:%s", i, name)
		if err := docker.ImageTag(ctx, pulled, ref); err != nil {
			t.Fatal(err)
		}
		if err := p.ImportImage(ctx, ref); err != nil {
			t.Fatalf("importing %s (%s): %v", ref, pulled, err)
		}
	}

	// Delete: cluster, registry and kubeconfig go.
	removed, err := p.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed.Cluster != name || removed.Registry == "" || removed.Kubeconfig != c.Kubeconfig {
		t.Errorf("removed = %+v", removed)
	}
	if _, err := p.Get(ctx); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(c.Kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig left: %v", err)
	}
	if _, err := docker.NetworkInspect(ctx, "k3d-"+name, network.InspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("network k3d-%s left after down: %v", name, err)
	}
}

func waitNodeReady(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil && len(nodes.Items) > 0 {
			for _, c := range nodes.Items[0].Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no Ready node: %v", err)
		case <-time.After(2 * time.Second):
		}
	}
}
