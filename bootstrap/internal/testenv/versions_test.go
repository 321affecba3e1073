package testenv

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/versions"
	"github.com/leynos/gitops-local/hack/controlplane"
)

// goMod is the part of a go.mod file these tests read: required versions and
// replacements, by module path.
type goMod struct {
	require map[string]string
	replace map[string]string // module => "path version" or "./dir"
}

func readGoMod(t *testing.T, path string) goMod {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	defer f.Close()
	m := goMod{require: map[string]string{}, replace: map[string]string{}}
	block := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		kind := block
		switch {
		case len(fields) == 0:
			continue
		case fields[0] == ")":
			block = ""
			continue
		case len(fields) == 2 && fields[1] == "(":
			block = fields[0]
			continue
		case block == "":
			kind, fields = fields[0], fields[1:]
		}
		switch {
		case kind == "require" && len(fields) >= 2:
			m.require[fields[0]] = fields[1]
		case kind == "replace" && len(fields) >= 3:
			if i := indexOf(fields, "=>"); i > 0 {
				m.replace[fields[0]] = strings.Join(fields[i+1:], " ")
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return m
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := controlplane.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestFluxVersionsMatchModules fails when a Flux pin in bootstrap/versions
// differs from the Flux API modules the tool compiles against, or from the
// controllers the integration tests build.
func TestFluxVersionsMatchModules(t *testing.T) {
	root := repoRoot(t)
	rootMod := readGoMod(t, filepath.Join(root, "go.mod"))
	for _, tc := range []struct{ name, version string }{
		{"source-controller", versions.SourceController},
		{"kustomize-controller", versions.KustomizeController},
		{"helm-controller", versions.HelmController},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := "github.com/fluxcd/" + tc.name + "/api"
			if got := rootMod.require[api]; got != tc.version {
				t.Errorf("go.mod requires %s %q, bootstrap/versions pins %s %s", api, got, tc.name, tc.version)
			}
			if r, ok := rootMod.replace[api]; ok {
				t.Errorf("go.mod replaces %s with %s: the tool must use the pinned %s", api, r, tc.version)
			}
			wrapperPath := filepath.Join(root, "hack", "tools", tc.name, "go.mod")
			wrapper := readGoMod(t, wrapperPath)
			for _, mod := range []string{"github.com/fluxcd/" + tc.name, api} {
				if got := wrapper.require[mod]; got != tc.version {
					t.Errorf("%s requires %s %q, bootstrap/versions pins %s", wrapperPath, mod, got, tc.version)
				}
				if r, ok := wrapper.replace[mod]; ok {
					t.Errorf("%s replaces %s with %s", wrapperPath, mod, r)
				}
			}
		})
	}
}

// TestControlPlaneVersionsMatchWrappers fails when a wrapper module under
// hack/tools builds another version than bootstrap/versions pins.
func TestControlPlaneVersionsMatchWrappers(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct{ dir, module, version string }{
		{"etcd", "go.etcd.io/etcd/server/v3", versions.Etcd},
		{"kubernetes", "k8s.io/kubernetes", versions.Kubernetes},
		{"kwok", "sigs.k8s.io/kwok", versions.Kwok},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			path := filepath.Join(root, "hack", "tools", tc.dir, "go.mod")
			m := readGoMod(t, path)
			if got := m.require[tc.module]; got != tc.version {
				t.Errorf("%s requires %s %q, bootstrap/versions pins %s", path, tc.module, got, tc.version)
			}
		})
	}
	t.Run("kubernetes staging modules", func(t *testing.T) {
		path := filepath.Join(root, "hack", "tools", "kubernetes", "go.mod")
		m := readGoMod(t, path)
		want := "v0." + strings.TrimPrefix(versions.Kubernetes, "v1.")
		if len(m.replace) < 30 {
			t.Errorf("%s replaces %d staging modules, want one for each of k8s.io/kubernetes' (33 at v1.37)", path, len(m.replace))
		}
		for mod, r := range m.replace {
			if r != mod+" "+want {
				t.Errorf("%s replaces %s with %q, want %s %s", path, mod, r, mod, want)
			}
		}
	})
}

// TestEveryComponentHasAWrapperModule checks the builder's list against the
// wrapper modules kept in the repository, go.sum included so that builds are
// reproducible.
func TestEveryComponentHasAWrapperModule(t *testing.T) {
	root := repoRoot(t)
	for _, c := range controlplane.Components() {
		for _, f := range []string{"go.mod", "go.sum"} {
			if _, err := os.Stat(filepath.Join(root, "hack", "tools", c.Name, f)); err != nil {
				t.Errorf("component %s: %v", c.Name, err)
			}
		}
	}
}

func TestReadGoMod(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.mod")
	src := `module example.com/m

go 1.26.0

require example.com/one v1.0.0 // single line

require (
	example.com/two v2.0.0
	example.com/three v3.0.0 // indirect
)

replace example.com/one => example.com/one v1.0.1

replace (
	example.com/two => ./two
)
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m := readGoMod(t, path)
	for mod, want := range map[string]string{"example.com/one": "v1.0.0", "example.com/two": "v2.0.0", "example.com/three": "v3.0.0"} {
		if got := m.require[mod]; got != want {
			t.Errorf("require[%s] = %q, want %q", mod, got, want)
		}
	}
	for mod, want := range map[string]string{"example.com/one": "example.com/one v1.0.1", "example.com/two": "./two"} {
		if got := m.replace[mod]; got != want {
			t.Errorf("replace[%s] = %q, want %q", mod, got, want)
		}
	}
	if len(m.require) != 3 || len(m.replace) != 2 {
		t.Errorf("got %d requires and %d replaces, want 3 and 2", len(m.require), len(m.replace))
	}
}
