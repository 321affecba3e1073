package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

const userKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: work, cluster: {server: "https://10.0.0.1:6443"}}]
users: [{name: me, user: {token: t}}]
contexts: [{name: work, context: {cluster: work, user: me}}]
current-context: work
`

const previewKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: k3d-dev, cluster: {server: "https://127.0.0.1:41234"}}]
users: [{name: admin@k3d-dev, user: {token: p}}]
contexts: [{name: k3d-dev, context: {cluster: k3d-dev, user: admin@k3d-dev}}]
current-context: k3d-dev
`

func TestMergeThenRemoveLeavesTheUsersKubeconfigAsItWas(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, ".kube", "config")
	src := filepath.Join(dir, "preview")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte(userKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte(previewKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}

	merged, err := MergeKubeconfig(dst, src)
	if err != nil || len(merged) != 1 || merged[0] != "k3d-dev" {
		t.Fatalf("MergeKubeconfig = %v, %v", merged, err)
	}
	cfg, err := clientcmd.LoadFromFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "work" {
		t.Errorf("current-context = %q, want the user's own (work) kept", cfg.CurrentContext)
	}
	if cfg.Contexts["work"] == nil || cfg.Contexts["k3d-dev"] == nil || cfg.Clusters["k3d-dev"].Server != "https://127.0.0.1:41234" {
		t.Errorf("merged kubeconfig lacks an entry: %+v", cfg.Contexts)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(dst)); di.Mode().Perm() != 0o755 {
		t.Errorf("the user's ~/.kube mode changed to %v", di.Mode().Perm())
	}

	// Merging again replaces, never duplicates.
	if _, err := MergeKubeconfig(dst, src); err != nil {
		t.Fatal(err)
	}

	removed, err := RemoveContext(dst, "k3d-dev")
	if err != nil || !removed {
		t.Fatalf("RemoveContext = %v, %v", removed, err)
	}
	cfg, err = clientcmd.LoadFromFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 || cfg.Contexts["work"] == nil || cfg.CurrentContext != "work" {
		t.Errorf("after removal: contexts %v clusters %v users %v current %q; want only the user's own", cfg.Contexts, cfg.Clusters, cfg.AuthInfos, cfg.CurrentContext)
	}
	if removed, err := RemoveContext(dst, "k3d-dev"); err != nil || removed {
		t.Errorf("removing again = %v, %v; want false, nil", removed, err)
	}
	if removed, err := RemoveContext(filepath.Join(dir, "missing"), "k3d-dev"); err != nil || removed {
		t.Errorf("removing from a missing file = %v, %v; want false, nil", removed, err)
	}
}

func TestMergeCreatesAMissingKubeconfig(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "preview")
	if err := os.WriteFile(src, []byte(previewKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "new", "config")
	if _, err := MergeKubeconfig(dst, src); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(dst)
	if err != nil || cfg.Contexts["k3d-dev"] == nil {
		t.Fatalf("new kubeconfig: %v, %+v", err, cfg)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
