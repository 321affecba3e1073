package up

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// TestTouchedEnvironments edits one file of a small repository at a time
// and checks which environments' inputs change, hence which a watch round
// validates again.
func TestTouchedEnvironments(t *testing.T) {
	envs := []string{"ephemeral/pr-1", "local", "staging"}
	base := map[string]string{
		"gitops/apps/app/kustomization.yaml":         "resources: [deploy.yaml]\n",
		"gitops/apps/app/deploy.yaml":                "kind: Deployment\n",
		"gitops/README.md":                           "The overlays/ patch this tree.\n",
		"charts/app/values.yaml":                     "replicaCount: 1\n",
		"overlays/README.md":                         "One folder per environment.\n",
		"overlays/local/kustomization.yaml":          "# applied from ./overlays/local\nresources: [app.yaml]\n",
		"overlays/local/app.yaml":                    "path: ./gitops/apps/app\n",
		"overlays/local/cluster-vars.env":            "A=1\n",
		"overlays/staging/kustomization.yaml":        "resources: [app.yaml]\n",
		"overlays/staging/app.yaml":                  "path: ./gitops/apps/app\n",
		"overlays/staging/cluster-vars.env":          "A=2\n",
		"overlays/ephemeral/pr-1/kustomization.yaml": "resources: [app.yaml]\n",
		"overlays/ephemeral/pr-1/app.yaml":           "path: ./gitops/apps/app\n",
		"overlays/ephemeral/pr-1/cluster-vars.env":   "A=3\n",
		"overlays/local/.app.yaml.swp":               "editor litter\n",
	}
	all := envs
	cases := []struct {
		name  string
		extra map[string]string // files added to base before the edit
		edit  string
		want  []string
	}{
		{name: "own overlay", edit: "overlays/staging/app.yaml", want: []string{"staging"}},
		{name: "nested environment", edit: "overlays/ephemeral/pr-1/app.yaml", want: []string{"ephemeral/pr-1"}},
		{name: "cluster variables", edit: "overlays/local/cluster-vars.env", want: []string{"local"}},
		{name: "shared tree", edit: "gitops/apps/app/deploy.yaml", want: all},
		{name: "chart", edit: "charts/app/values.yaml", want: all},
		{name: "shared file under overlays", edit: "overlays/README.md", want: all},
		{name: "editor litter", edit: "overlays/local/.app.yaml.swp", want: nil},
		{name: "an overlay reaching into another with ../",
			extra: map[string]string{"overlays/staging/kustomization.yaml": "resources: [app.yaml, ../local/app.yaml]\n"},
			edit:  "overlays/local/app.yaml", want: []string{"local", "staging"}},
		{name: "an overlay naming another's folder",
			extra: map[string]string{"overlays/ephemeral/pr-1/app.yaml": "path: ./overlays/staging\n"},
			edit:  "overlays/staging/app.yaml", want: []string{"ephemeral/pr-1", "staging"}},
		{name: "the shared tree naming an overlay",
			extra: map[string]string{"gitops/apps/app/kustomization.yaml": "resources: [../../../overlays/local/app.yaml]\n"},
			edit:  "overlays/staging/app.yaml", want: all},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write := func(rel, content string) {
				p := filepath.Join(root, filepath.FromSlash(rel))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for p, c := range base {
				write(p, c)
			}
			for p, c := range tc.extra {
				write(p, c)
			}
			before, err := readInputs(root, envs)
			if err != nil {
				t.Fatal(err)
			}
			write(tc.edit, "edited\n")
			after, err := readInputs(root, envs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range envs {
				if before.envs[e] != after.envs[e] {
					got = append(got, e)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("editing %s touches %v, want %v", tc.edit, got, tc.want)
			}
			if (before.tree != after.tree) != (len(tc.want) > 0) {
				t.Errorf("tree digest changed: %v, want %v", before.tree != after.tree, len(tc.want) > 0)
			}
		})
	}
}

// TestThisRepositoryKeepsEnvironmentsApart checks that in this repository
// an edit to one environment's overlay makes a watch round validate that
// environment only (and the deployed one, always validated).
func TestThisRepositoryKeepsEnvironmentsApart(t *testing.T) {
	root := testutil.CopyRepo(t, filepath.Join("..", ".."))
	envs, err := gitops.Environments(root)
	if err != nil {
		t.Fatal(err)
	}
	before, err := readInputs(root, envs)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "overlays", "staging", "ghillie.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, "\n# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := readInputs(root, envs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if changed := before.envs[e] != after.envs[e]; changed != (e == "staging") {
			t.Errorf("editing overlays/staging: %s touched = %v", e, changed)
		}
	}
}

// TestRendersKeptUntilChartsChange checks that chart renders are shared by
// the rounds of a watch only while charts/ is unchanged, and for a bounded
// number of rounds.
func TestRendersKeptUntilChartsChange(t *testing.T) {
	v := NewValidated()
	first := v.rendersOf("sha256:a")
	if v.rendersOf("sha256:a") != first {
		t.Error("an unchanged charts/ did not keep the renders")
	}
	second := v.rendersOf("sha256:b")
	if second == first {
		t.Error("a changed charts/ kept the renders")
	}
	for i := 1; i < rendersRounds; i++ {
		if v.rendersOf("sha256:b") != second {
			t.Fatalf("renders dropped after %d rounds, want %d", i, rendersRounds)
		}
	}
	if v.rendersOf("sha256:b") == second {
		t.Errorf("renders kept beyond %d rounds", rendersRounds)
	}
}
