package publish

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// copyDir copies the repository's chart so a test can change it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	testutil.CopyTree(t, src, dst)
	return dst
}

func TestChartPushSkipAndChange(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	p, err := New(reg, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	chartDir := copyDir(t, filepath.Join("..", "..", "charts", "ghillie"))

	first, err := p.Chart(ctx, chartDir, "charts")
	if err != nil {
		t.Fatal(err)
	}
	if first.Skipped || first.URL != "oci://"+reg+"/charts/ghillie:0.1.0" {
		t.Fatalf("first push = %+v", first)
	}

	// Helm itself can pull and load what was pushed.
	hc, err := registry.NewClient(registry.ClientOptPlainHTTP())
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := hc.Pull(strings.TrimPrefix(first.URL, "oci://"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(pulled.Chart.Data))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "ghillie" || ch.Metadata.Version != "0.1.0" || len(ch.Templates) == 0 {
		t.Errorf("pulled chart %s %s with %d templates", ch.Name(), ch.Metadata.Version, len(ch.Templates))
	}

	// Touching files changes nothing; the push is skipped.
	for _, f := range []string{"values.yaml", "Chart.yaml"} {
		now := first2000()
		_ = os.Chtimes(filepath.Join(chartDir, f), now, now)
	}
	again, err := p.Chart(ctx, chartDir, "charts")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Skipped || again.Digest != first.Digest {
		t.Errorf("unchanged chart push = %+v, want skipped with %s", again, first.Digest)
	}

	// A template change is pushed under the same version with a new digest,
	// which is what makes helm-controller upgrade a chartRef release.
	tpl := filepath.Join(chartDir, "templates", "configmap.yaml")
	data, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tpl, append(data, []byte("\n# changed\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := p.Chart(ctx, chartDir, "charts")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Skipped || changed.Digest == first.Digest {
		t.Errorf("changed chart push = %+v, want a new digest", changed)
	}
}

func TestChartPushPlatformArchive(t *testing.T) {
	archive := filepath.Join(testutil.ChartArchives(t, filepath.Join("..", "..")), "valkey-operator-v0.0.61-chart.tgz")
	reg := startRegistry(t)
	p, _ := New(reg, WithInsecure())
	a, err := p.Chart(context.Background(), archive, "charts")
	if err != nil {
		t.Fatal(err)
	}
	if a.URL != "oci://"+reg+"/charts/valkey-operator:v0.0.61-chart" {
		t.Errorf("pushed to %s", a.URL)
	}
}

func TestChartPushBadChart(t *testing.T) {
	p, _ := New("127.0.0.1:1", WithInsecure())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("name: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := p.Chart(context.Background(), dir, "charts")
	if err == nil || !strings.Contains(err.Error(), `load chart "`+dir+`"`) {
		t.Errorf("err = %v, want it to name the chart", err)
	}
}

// TestChartRefusesLinksOutOfTheChart: a chart file that is a symbolic link
// to a file outside the chart is never pushed; the error names the file,
// and the registry holds nothing.
func TestChartRefusesLinksOutOfTheChart(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	p, err := New(reg, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	chartDir := copyDir(t, filepath.Join("..", "..", "charts", "ghillie"))
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root:x:0:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(chartDir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(chartDir, "files", "pw")); err != nil {
		t.Fatal(err)
	}
	_, err = p.Chart(ctx, chartDir, "charts")
	if err == nil || !strings.Contains(err.Error(), "files/pw") || !strings.Contains(err.Error(), "leaves the chart") {
		t.Fatalf("err = %v, want the link files/pw refused", err)
	}
	if layer, _, err := p.chartLayer(ctx, reg+"/charts/ghillie:0.1.0"); err != nil || layer != "" {
		t.Errorf("the registry holds the chart (layer %q, err %v)", layer, err)
	}

	// A link to a file inside the chart is loaded as source-controller
	// loads it.
	if err := os.Remove(filepath.Join(chartDir, "files", "pw")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "values.yaml"), filepath.Join(chartDir, "files", "pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Chart(ctx, chartDir, "charts"); err != nil {
		t.Fatalf("a link inside the chart: %v", err)
	}
}

// ChartDigest, computed without a network, is the digest a push of the same
// chart to a real registry gives.
func TestChartDigestIsThePushedDigest(t *testing.T) {
	reg := startRegistry(t)
	p, err := New(reg, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join("..", "..", "charts", "ghillie")
	a, err := p.Chart(t.Context(), chart, "charts")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ChartDigest(chart)
	if err != nil {
		t.Fatal(err)
	}
	if d != a.Digest || !strings.HasPrefix(d, "sha256:") {
		t.Errorf("ChartDigest %q, pushed %q", d, a.Digest)
	}
}
