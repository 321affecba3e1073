package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/hack/benchtools"
)

// packageTestChart writes name-version.tgz into dir.
func packageTestChart(t *testing.T, dir, name, version string) string {
	t.Helper()
	c := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: version}}
	p, err := chartutil.Save(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The index lists every archive with a URL under the server, and a Helm
// client reading it over loopback finds the chart and downloads it.
func TestWriteIndexServesCharts(t *testing.T) {
	src := t.TempDir()
	a := packageTestChart(t, src, "alpha", "1.2.3")
	b := packageTestChart(t, src, "beta", "0.1.0")
	dir := t.TempDir()
	srv, err := serveHelmRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := writeIndex(dir, []string{a, b}, srv.URL); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	idx := repo.NewIndexFile()
	if err := yaml.Unmarshal(data, idx); err != nil {
		t.Fatal(err)
	}
	cv, err := idx.Get("alpha", "1.2.3")
	if err != nil {
		t.Fatalf("served index: %v\n%s", err, data)
	}
	if len(cv.URLs) != 1 || cv.URLs[0] != srv.URL+"/alpha-1.2.3.tgz" {
		t.Fatalf("alpha URLs %v, want %s/alpha-1.2.3.tgz", cv.URLs, srv.URL)
	}
	if cv.Digest == "" {
		t.Error("no digest in the index entry")
	}
	if _, err := idx.Get("beta", "0.1.0"); err != nil {
		t.Error(err)
	}
	resp, err = http.Get(cv.URLs[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", cv.URLs[0], resp.Status)
	}
	if _, err := writeIndex(t.TempDir(), nil, srv.URL); err == nil {
		t.Error("an index of no archive: no error")
	}
}

// The copy points HelmRepositories and the repository's own OCI charts at
// the loopback servers, leaves other sources alone, and gives each
// environment its cluster-vars ConfigMap.
func TestCopyRepoRewritesSources(t *testing.T) {
	src := t.TempDir()
	write := func(p, body string) {
		t.Helper()
		p = filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("overlays/dev/cluster-vars.env", "A=1\nB=two\n")
	write("overlays/dev/kustomization.yaml", "resources:\n  - ks.yaml\n")
	write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n")
	write("gitops/src.yaml", `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: up, namespace: flux-system}
spec: {type: oci, url: oci://quay.io/x/charts}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app, namespace: app}
spec: {url: "oci://${REG}/charts/app", ref: {tag: 0.1.0}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: other, namespace: app}
spec: {url: "oci://ghcr.io/x/manifests"}
`)
	untouched := "# a comment\napiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n"
	write("gitops/ns.yaml", untouched)
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyRepo(src, dst, endpoints{HelmRepo: "http://127.0.0.1:1", Registry: "127.0.0.1:2", Vars: map[string]string{"B": "over"}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dst, "gitops/src.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := benchtools.DecodeYAML(data)
	if err != nil || len(docs) != 3 {
		t.Fatalf("rewritten file: %v, %d documents\n%s", err, len(docs), data)
	}
	spec := func(i int) obj { return docs[i]["spec"].(obj) }
	if spec(0)["url"] != "http://127.0.0.1:1/" || spec(0)["type"] != nil {
		t.Errorf("HelmRepository spec %v", spec(0))
	}
	if spec(1)["url"] != "oci://127.0.0.1:2/charts/app" || spec(1)["insecure"] != true {
		t.Errorf("own chart OCIRepository spec %v", spec(1))
	}
	if spec(2)["url"] != "oci://ghcr.io/x/manifests" {
		t.Errorf("another OCIRepository was rewritten: %v", spec(2))
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "gitops/ns.yaml")); string(got) != untouched {
		t.Errorf("a file without sources changed:\n%s", got)
	}
	k, _ := os.ReadFile(filepath.Join(dst, "overlays/dev/kustomization.yaml"))
	if !strings.Contains(string(k), "cluster-vars.yaml") {
		t.Errorf("overlay does not list cluster-vars.yaml:\n%s", k)
	}
	cm, _ := os.ReadFile(filepath.Join(dst, "overlays/dev/cluster-vars.yaml"))
	var c obj
	if err := yaml.Unmarshal(cm, &c); err != nil {
		t.Fatal(err)
	}
	if d, _ := c["data"].(obj); d["A"] != "1" || d["B"] != "over" {
		t.Errorf("cluster-vars ConfigMap %v", c)
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); err != nil {
		t.Errorf("the copy is not marked as a repository root: %v", err)
	}
}
