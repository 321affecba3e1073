package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/cluster/k3d"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// TestUpStatusDownOnK3d is the whole lifecycle on a real k3d cluster: up
// from nothing with the app image, status, and down. It needs a Docker
// engine and the app image's source: GITOPS_LOCAL_E2E_APP_SRC (a Ghillie
// checkout to build) or GITOPS_LOCAL_E2E_IMAGE (a prebuilt image).
func TestUpStatusDownOnK3d(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the end-to-end test on a real k3d cluster")
	}
	if err := k3d.Available(context.Background()); err != nil {
		t.Skipf("skipping: this end-to-end test creates a real k3d cluster and needs a Docker engine: %v", err)
	}
	var imageArgs []string
	if src := os.Getenv("GITOPS_LOCAL_E2E_APP_SRC"); src != "" {
		imageArgs = []string{"--app-src", src}
	} else if ref := os.Getenv("GITOPS_LOCAL_E2E_IMAGE"); ref != "" {
		imageArgs = []string{"--image", ref}
	} else {
		t.Skip("skipping: set GITOPS_LOCAL_E2E_APP_SRC (a Ghillie checkout) or GITOPS_LOCAL_E2E_IMAGE (a prebuilt image) for the app image")
	}
	name := fmt.Sprintf("gl-e2e-%d", time.Now().Unix()%100000)
	env := map[string]string{
		cluster.StateDirEnv: t.TempDir(),
		chartcache.EnvDir:   testutil.ChartCache(t, repoRoot, false).Dir(),
	}
	t.Cleanup(func() { run(t, env, "down", "--yes", "--cluster", name) })

	r := run(t, env, append([]string{"up", "--cluster", name, "--repo", repoRoot, "--timeout", "20m", "-o", "json"}, imageArgs...)...)
	if r.code != ExitOK {
		t.Fatalf("up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var sum struct {
		Cluster cluster.Cluster   `json:"cluster"`
		URL     string            `json:"url"`
		Health  map[string]string `json:"health"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("up -o json: %v\n%s", err, r.stdout)
	}
	if !sum.Cluster.Created || sum.URL != sum.Cluster.URL || !strings.HasPrefix(sum.URL, "http://127.0.0.1:") {
		t.Errorf("up summary = %+v", sum)
	}
	resp, err := http.Get(sum.URL + "health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %shealth = %d through the k3d ingress", sum.URL, resp.StatusCode)
	}

	r = run(t, env, "status", "--cluster", name)
	if r.code != ExitOK || !strings.Contains(r.stdout, "cluster") || !strings.Contains(r.stdout, sum.URL) {
		t.Errorf("status: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	if src := os.Getenv("GITOPS_LOCAL_E2E_APP_SRC"); src != "" {
		rebuildReachesThePod(t, env, name, src, sum.Cluster.Kubeconfig)
	}

	r = run(t, env, "down", "--yes", "--cluster", name)
	if r.code != ExitOK || !strings.Contains(r.stderr, "deleted k3d cluster "+name) {
		t.Errorf("down: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, env, "status", "--cluster", name)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no k3d cluster") {
		t.Errorf("status after down: exit %d\n%s", r.code, r.stderr)
	}
}

// rebuildReachesThePod changes a Python file of a copy of the checkout,
// runs up again and checks that the rebuilt image's ID reaches a Ready
// pod through Flux (the local overlay's image-id annotation).
func rebuildReachesThePod(t *testing.T, env map[string]string, name, src, kubeconfig string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "ghillie")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	var py string
	// A module of the ghillie package, wherever the checkout keeps it
	// (ghillie/ or src/ghillie/), not a test or a virtualenv's.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || py != "" {
			return fs.SkipAll
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "tests" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".py") && filepath.Base(filepath.Dir(p)) == "ghillie" {
			py = p
		}
		return nil
	})
	if py == "" {
		t.Fatalf("no module of the ghillie package in %s", dir)
	}
	f, err := os.OpenFile(py, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n# gitops-local end-to-end rebuild %d\n", time.Now().UnixNano())
	f.Close()

	r := run(t, env, "up", "--cluster", name, "--repo", repoRoot, "--timeout", "20m", "--app-src", dir)
	if r.code != ExitOK {
		t.Fatalf("up after a rebuild: exit %d\n%s", r.code, r.stderr)
	}
	docker, err := image.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	id, err := image.Exists(ctx, docker, image.Local)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	for {
		pods, err := cs.CoreV1().Pods("ghillie").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=ghillie"})
		if err == nil {
			for _, p := range pods.Items {
				if p.Annotations["gitops-local.leynos.github.io/image-id"] != id || p.DeletionTimestamp != nil {
					continue
				}
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no Ready pod runs the rebuilt image %s: %v", id, err)
		case <-time.After(2 * time.Second):
		}
	}
}
