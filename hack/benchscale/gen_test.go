package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/gitops"
)

func TestShapeFor(t *testing.T) {
	for _, total := range []int{10, 50, 100, 250, 500, 7, 1} {
		s, err := shapeFor(total)
		if err != nil {
			t.Fatalf("shapeFor(%d): %v", total, err)
		}
		if s.Releases() != total {
			t.Errorf("shapeFor(%d) = %+v: %d releases", total, s, s.Releases())
		}
		if s.Envs > 5 {
			t.Errorf("shapeFor(%d) = %+v: more than five environments", total, s)
		}
	}
	if s, _ := shapeFor(500); s.Envs != 5 || s.PerEnv != 100 {
		t.Errorf("shapeFor(500) = %+v, want 5 environments of 100", s)
	}
	if _, err := shapeFor(0); err == nil {
		t.Error("shapeFor(0): no error")
	}
}

// The generated repository has the asked number of environments, each a
// project-style overlay, and exactly Releases() HelmReleases, half of them
// on the ghillie chart, every document parseable YAML.
func TestGenerateShape(t *testing.T) {
	dir := t.TempDir()
	s := shape{Envs: 3, PerEnv: 4}
	if err := generate(dir, "../../charts/ghillie", s); err != nil {
		t.Fatal(err)
	}
	envs, err := gitops.Environments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != s.Envs {
		t.Errorf("environments %v, want %d", envs, s.Envs)
	}
	if _, err := os.Stat(filepath.Join(dir, "charts", "ghillie", "Chart.yaml")); err != nil {
		t.Errorf("ghillie chart not copied: %v", err)
	}
	releases, ghillie := 0, 0
	err = filepath.WalkDir(filepath.Join(dir, "gitops"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var o map[string]any
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if o["kind"] == "HelmRelease" {
				releases++
				if spec, _ := o["spec"].(map[string]any); spec["chartRef"] != nil {
					ghillie++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if releases != s.Releases() {
		t.Errorf("%d HelmReleases, want %d", releases, s.Releases())
	}
	if ghillie != s.Releases()/2 {
		t.Errorf("%d ghillie releases, want %d", ghillie, s.Releases()/2)
	}
}
