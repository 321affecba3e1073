package provider

import (
	"testing"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/cluster/k3d"
)

// TestNewPicksTheProvider: a kubeconfig selects the existing cluster,
// nothing else k3d (whose client opens no connection when made).
func TestNewPicksTheProvider(t *testing.T) {
	p, err := New(Config{Existing: cluster.Existing{Kubeconfig: "/kc", Registry: "127.0.0.1:5000"}, K3d: k3d.Options{Name: "dev", StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := p.(*cluster.Existing); !ok || e.Kubeconfig != "/kc" {
		t.Errorf("with a kubeconfig: %T %+v", p, p)
	}
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	p, err = New(Config{K3d: k3d.Options{Name: "dev", StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*k3d.Provider); !ok {
		t.Errorf("without a kubeconfig: %T", p)
	}
}
