package conformance

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/publish"
)

// Placeholders the cases' files use for the loopback servers the suite
// starts; each is replaced before the build and the push alike.
const (
	// chartsHost stands for the static Helm chart repository server:
	// http://charts.conformance.invalid/<case>/ serves the case's
	// helmRepository folder, packed and indexed.
	chartsHost = "charts.conformance.invalid"
	// registryHost stands for the test control plane's OCI registry.
	registryHost = "registry.conformance.invalid"
)

// ociChart is a chart folder of a case's repository the suite pushes to
// the registry before the controllers run, as up pushes the repository's
// charts: oci://<registry>/<repository>/<name>:<version>.
type ociChart struct {
	Chart      string `json:"chart"`
	Repository string `json:"repository"`
	// Cache also puts the chart in the offline build's chart cache as
	// the chart of oci://<registry>/<repository>, as a build without
	// --offline pulls a chart a HelmRepository of type oci serves.
	Cache bool `json:"cache"`
}

// ociArtifact is a folder of a case the suite pushes to the registry as a
// Flux artifact (`flux push artifact`'s code, fluxcd/pkg/oci) under ref,
// repository:tag.
type ociArtifact struct {
	Folder string `json:"folder"`
	Ref    string `json:"ref"`
}

// packHelmRepository packs every chart folder under dir as `helm package`
// does, indexes the archives as `helm repo index` does (relative URLs),
// and puts each archive in cache as the chart of url, so that the
// offline build reads the very archives the repository serves. It
// returns the folder to serve.
func packHelmRepository(t *testing.T, dir, url string, cache *chartcache.Cache) string {
	t.Helper()
	out := t.TempDir()
	folders, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("helmRepository: %v", err)
	}
	for _, f := range folders {
		if !f.IsDir() {
			continue
		}
		ch, err := loader.LoadDir(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatalf("helmRepository: chart %s: %v", f.Name(), err)
		}
		archive, err := chartutil.Save(ch, out)
		if err != nil {
			t.Fatalf("helmRepository: package %s: %v", f.Name(), err)
		}
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		ref := chartcache.Ref{Name: ch.Name(), Version: ch.Metadata.Version, Repository: url}
		if err := cache.Put(ref, data); err != nil {
			t.Fatalf("helmRepository: %v", err)
		}
	}
	idx, err := repo.IndexDirectory(out, "")
	if err != nil {
		t.Fatalf("helmRepository: index: %v", err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(out, "index.yaml"), 0o644); err != nil {
		t.Fatalf("helmRepository: index: %v", err)
	}
	return out
}

// cacheOCICharts packs the charts of charts that ask for it as
// `helm package` does and puts them in cache as the charts of
// oci://<registry>/<repository>.
func cacheOCICharts(t *testing.T, repoDir, registry string, charts []ociChart, cache *chartcache.Cache) {
	t.Helper()
	for _, c := range charts {
		if !c.Cache {
			continue
		}
		ch, err := loader.LoadDir(filepath.Join(repoDir, c.Chart))
		if err != nil {
			t.Fatalf("ociCharts: %v", err)
		}
		archive, err := chartutil.Save(ch, t.TempDir())
		if err != nil {
			t.Fatalf("ociCharts: package %s: %v", c.Chart, err)
		}
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		ref := chartcache.Ref{Name: ch.Name(), Version: ch.Metadata.Version, Repository: "oci://" + registry + "/" + c.Repository}
		if err := cache.Put(ref, data); err != nil {
			t.Fatalf("ociCharts: %v", err)
		}
	}
}

// chartServer is a static Helm chart repository on loopback: each case's
// packed folder under /<case>/.
type chartServer struct {
	addr string
	mu   sync.Mutex
	dirs map[string]string
}

func startChartServer(t *testing.T) *chartServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &chartServer{addr: ln.Addr().String(), dirs: map[string]string{}}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// serve serves dir as http://<addr>/<name>/.
func (s *chartServer) serve(name, dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs[name] = dir
}

func (s *chartServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s.mu.Lock()
	dir, ok := s.dirs[name]
	s.mu.Unlock()
	if !ok || rest == "" || strings.Contains(rest, "/") {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, filepath.Join(dir, rest))
}

// pushOCI pushes the case's charts and artifacts to the registry at
// registry (host:port on loopback).
func pushOCI(ctx context.Context, t *testing.T, registry, repoDir, work string, charts []ociChart, artifacts []ociArtifact) {
	t.Helper()
	if len(charts) > 0 {
		p, err := publish.New(registry, publish.WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range charts {
			if _, err := p.Chart(ctx, filepath.Join(repoDir, c.Chart), c.Repository); err != nil {
				t.Fatalf("ociCharts: %v", err)
			}
		}
	}
	client := oci.NewClient(append(oci.DefaultOptions(), crane.Insecure))
	for _, a := range artifacts {
		_, err := client.Push(ctx, registry+"/"+a.Ref, filepath.Join(work, a.Folder),
			oci.WithPushMetadata(oci.Metadata{Source: "conformance", Revision: a.Ref}))
		if err != nil {
			t.Fatalf("ociArtifacts: push %s: %v", a.Folder, err)
		}
	}
}
