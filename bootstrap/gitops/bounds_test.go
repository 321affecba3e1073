package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/render"
)

// hostileRepo is a repository whose only HelmRelease renders the chart
// charts/hostile, whose template is tpl.
func hostileRepo(t *testing.T, tpl string) string {
	return writeRepo(t, map[string]string{
		"overlays/test/cluster-vars.env": "REGISTRY=reg.test:5000\n",
		"overlays/test/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - release.yaml
`,
		"overlays/test/release.yaml": `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: hostile
  namespace: team
spec:
  interval: 10m
  url: oci://${REGISTRY}/charts/hostile
  ref:
    tag: 0.1.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hostile
  namespace: team
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: hostile
`,
		"charts/hostile/Chart.yaml":         "apiVersion: v2\nname: hostile\nversion: 0.1.0\n",
		"charts/hostile/templates/out.yaml": tpl,
	})
}

// loopTemplate runs for hours without allocating much.
const loopTemplate = `{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}`

func TestBuildReportsRenderPastItsTimeout(t *testing.T) {
	root := hostileRepo(t, loopTemplate)
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir()), RenderLimits: render.Limits{Timeout: 2 * time.Second}})
	if len(e.Findings) != 1 {
		t.Fatalf("want one finding, got %v", e.Findings)
	}
	f := e.Findings[0]
	if f.Object != "HelmRelease/team/hostile" || f.File != "overlays/test/release.yaml" || !strings.Contains(f.Message, "within 2s") {
		t.Errorf("the finding should name the HelmRelease, its file and the time bound: %s", f)
	}
}

func TestBuildReportsRenderPastItsMemory(t *testing.T) {
	root := hostileRepo(t, `{{ $s := repeat 1048576 "x" }}{{ range until 102400 }}{{ $s }}{{ end }}`)
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir()), RenderLimits: render.Limits{MaxMemoryBytes: 256 << 20}})
	if len(e.Findings) != 1 {
		t.Fatalf("want one finding, got %v", e.Findings)
	}
	if f := e.Findings[0]; f.Object != "HelmRelease/team/hostile" || !strings.Contains(f.Message, "more than 256 MiB of memory") {
		t.Errorf("the finding should name the HelmRelease and the memory bound: %s", f)
	}
}

// A build cancelled while a chart renders reports nothing about the
// repository and leaves no working copy behind.
func TestCancelledBuildIsNoResult(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root := hostileRepo(t, loopTemplate)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	e, err := Build(ctx, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir()), RenderLimits: render.Limits{Timeout: time.Hour}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v (findings %v)", err, e)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range left {
		t.Errorf("left behind in the temporary directory: %s", d.Name())
	}
}

// A render stopped by its limits is met once per run: the builds that share
// the render get its failure without waiting for it again, and the next run
// tries again.
func TestRenderCacheRemembersLimitFailuresForTheRun(t *testing.T) {
	c := NewRenderCache()
	ctx := context.Background()
	tried := 0
	stopped := fmt.Errorf("render chart %q: %w", "loop", render.ErrLimit)
	fn := func() (*render.Result, error) { tried++; return nil, stopped }
	for i := 0; i < 3; i++ {
		if _, _, err := c.render(ctx, "k", fn); !errors.Is(err, render.ErrLimit) {
			t.Fatalf("render %d: want the limit error, got %v", i, err)
		}
	}
	if tried != 1 {
		t.Errorf("the render ran %d times in one run, want once", tried)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.render(ctx, "k", fn); !errors.Is(err, render.ErrLimit) || tried != 2 {
		t.Errorf("next run: err %v after %d renders; want the render tried again", err, tried)
	}
}
