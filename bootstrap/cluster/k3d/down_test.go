package k3d

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	k3d "github.com/k3d-io/k3d/v5/pkg/types"
)

// A cluster up cannot use is still found by name, described with what is
// wrong with it, and deleted.
func TestBrokenClustersCanBeDeleted(t *testing.T) {
	noLBPort := func() *k3d.Cluster {
		c := newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")
		for _, n := range c.Nodes {
			if n.Role == k3d.LoadBalancerRole {
				n.Ports = nil
			}
		}
		return c
	}
	stopped := func() *k3d.Cluster {
		c := newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")
		for _, n := range c.Nodes {
			n.State.Running = false
		}
		return c
	}
	noRegistry := func() *k3d.Cluster {
		c := newCluster("dev", "127.0.0.1", "8081", "k3d-dev-registry", "127.0.0.1", "5055")
		c.Nodes = c.Nodes[:2]
		return c
	}
	for _, tc := range []struct {
		name       string
		cluster    *k3d.Cluster
		kubeconfig bool
		want       string
	}{
		{"no load-balancer port", noLBPort(), true, `k3d cluster "dev" (no loopback port for its ingress) with its registry (127.0.0.1:5055) and kubeconfig `},
		{"kubeconfig missing", noLBPort(), false, `k3d cluster "dev" (no loopback port for its ingress) with its registry (127.0.0.1:5055)`},
		{"stopped", stopped(), true, `k3d cluster "dev" (stopped) with its registry (127.0.0.1:5055) and kubeconfig `},
		{"no registry", noRegistry(), true, `k3d cluster "dev" without a registry and kubeconfig `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeEngine{cluster: tc.cluster}
			p := newTestProvider(t, eng, 0)
			if tc.kubeconfig {
				if err := os.MkdirAll(filepath.Dir(p.Kubeconfig()), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p.Kubeconfig(), []byte("kc"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			what, err := p.Describe(context.Background())
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if !strings.HasPrefix(what, tc.want) || (!tc.kubeconfig && strings.Contains(what, "kubeconfig")) {
				t.Errorf("Describe = %q, want %q", what, tc.want)
			}
			removed, err := p.Delete(context.Background())
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if !eng.deleted || removed.Cluster != "dev" {
				t.Errorf("the cluster was not deleted: %+v", removed)
			}
			if (removed.Kubeconfig != "") != tc.kubeconfig {
				t.Errorf("removed kubeconfig %q, want it removed: %v", removed.Kubeconfig, tc.kubeconfig)
			}
			if what, err := p.Describe(context.Background()); what != "" || err != nil {
				t.Errorf("after Delete, Describe = %q, %v; want nothing left", what, err)
			}
		})
	}
}

func TestDescribeLeftoverKubeconfig(t *testing.T) {
	p := newTestProvider(t, &fakeEngine{}, 0)
	if what, err := p.Describe(context.Background()); what != "" || err != nil {
		t.Fatalf("nothing there: Describe = %q, %v", what, err)
	}
	if err := os.MkdirAll(filepath.Dir(p.Kubeconfig()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Kubeconfig(), []byte("kc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if what, _ := p.Describe(context.Background()); !strings.Contains(what, "the kubeconfig "+p.Kubeconfig()+` left from k3d cluster "dev"`) {
		t.Errorf("Describe = %q, want the leftover kubeconfig", what)
	}
}
