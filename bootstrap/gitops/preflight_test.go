package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// hostileOverlay is a repository whose overlay names every kind of
// reference kustomize would fetch, and one local base that does too.
var hostileOverlay = map[string]string{
	"overlays/test/cluster-vars.env": "X=1\n",
	"overlays/test/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - cm.yaml
  - https://github.com/fluxcd/flux2//manifests/install?ref=v2.0.0
  - github.com/org/repo//path
  - file:///etc
  - git::https://example.invalid/repo.git//x
  - https://example.invalid/x.yaml
  - ../../gitops/base
`,
	"overlays/test/cm.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
`,
	"gitops/base/kustomization.yaml": `
components:
  - ssh://git@example.invalid/org/repo.git
patches:
  - path: https://example.invalid/p.yaml
configMapGenerator:
  - name: x
    files:
      - k=https://example.invalid/f
`,
}

func TestRemoteReferencesAreFindingsAndNotFetched(t *testing.T) {
	root := writeRepo(t, hostileOverlay)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
	want := map[string]string{
		"overlays/test/kustomization.yaml resources[1]":                 `remote base "https://github.com/fluxcd/flux2//manifests/install?ref=v2.0.0"`,
		"overlays/test/kustomization.yaml resources[2]":                 `remote base "github.com/org/repo//path"`,
		"overlays/test/kustomization.yaml resources[3]":                 `remote base "file:///etc"`,
		"overlays/test/kustomization.yaml resources[4]":                 `remote base "git::https://example.invalid/repo.git//x"`,
		"overlays/test/kustomization.yaml resources[5]":                 `remote file "https://example.invalid/x.yaml"`,
		"gitops/base/kustomization.yaml components[0]":                  `remote base "ssh://git@example.invalid/org/repo.git"`,
		"gitops/base/kustomization.yaml patches[0].path":                `remote file "https://example.invalid/p.yaml"`,
		"gitops/base/kustomization.yaml configMapGenerator[0].files[0]": `remote file "https://example.invalid/f"`,
	}
	for _, f := range e.Findings {
		if f.Line == 0 {
			t.Errorf("finding %s has no line", f)
		}
		k := f.File + " " + f.Field
		w, ok := want[k]
		if !ok {
			t.Errorf("unexpected finding %s", f)
			continue
		}
		if !strings.Contains(f.Message, w) || !strings.Contains(f.Message, "not fetched offline: vendor it into the repository") {
			t.Errorf("finding %s, want %s", f, w)
		}
		delete(want, k)
	}
	for k, w := range want {
		t.Errorf("no finding at %s for %s among:\n%s", k, w, findingsText(e.Findings))
	}
	if len(e.Objects) != 0 {
		t.Errorf("the overlay was built anyway: %d objects", len(e.Objects))
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "kustomize-*")); len(m) > 0 {
		t.Errorf("kustomize cloned into %v", m)
	}
}

func TestLocalReferencesAreNotRemote(t *testing.T) {
	for _, ref := range []string{"cm.yaml", "../base", "./dir/x.yml", "sub//double", "github.com.yaml"} {
		if isRemoteBase(ref) || isRemoteFile(ref) {
			t.Errorf("%q taken for a remote reference", ref)
		}
	}
}

// laughsYAML is a ConfigMap whose data expands to 9^9 strings.
func laughsYAML() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a0: &a0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n")
	for i := 1; i <= 9; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("  a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.TrimSuffix(strings.Repeat(p+",", 9), ",") + "]\n")
	}
	return b.String()
}

// TestAliasBombIsAFindingBeforeKustomizeParsesIt, both with a kustomization
// file naming the bomb and without one (Flux's generator parses every YAML
// file of the directory then).
func TestAliasBombIsAFindingBeforeKustomizeParsesIt(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"kustomization": {
			"overlays/test/kustomization.yaml": "resources:\n  - lol.yaml\n",
			"overlays/test/lol.yaml":           laughsYAML(),
		},
		"generated": {
			"overlays/test/lol.yaml": laughsYAML(),
		},
	} {
		t.Run(name, func(t *testing.T) {
			files["overlays/test/cluster-vars.env"] = "X=1\n"
			root := writeRepo(t, files)
			if st, _ := os.Stat(filepath.Join(root, "overlays/test/lol.yaml")); st.Size() > 600 {
				t.Fatalf("the bomb is %d bytes, want a small one", st.Size())
			}
			cache := mustCache(t, t.TempDir())
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			e := build(t, root, "test", Options{Offline: true, ChartCache: cache})
			runtime.ReadMemStats(&after)
			// Expanded, the document is 387 million strings: gigabytes.
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("the build allocated %d MiB, want under 16 MiB", got>>20)
			}
			if len(e.Findings) != 1 {
				t.Fatalf("want one finding, got:\n%s", findingsText(e.Findings))
			}
			f := e.Findings[0]
			if f.File != "overlays/test/lol.yaml" || !strings.Contains(f.Message, "excessive aliasing") {
				t.Errorf("finding %s, want excessive aliasing in overlays/test/lol.yaml", f)
			}
		})
	}
}

// TestVarsFileLinkIsNotRead: an environment's cluster-vars.env that is a
// symbolic link to a file outside the repository is a finding, and none of
// its values reach the objects.
func TestVarsFileLinkIsNotRead(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"overlays/test/kustomization.yaml": "resources:\n  - cm.yaml\n",
		"overlays/test/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  key: ${aws_secret_access_key:=none}\n",
	})
	secret := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(secret, []byte("aws_secret_access_key=s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "overlays/test/cluster-vars.env")); err != nil {
		t.Fatal(err)
	}
	e := build(t, root, "test", Options{Offline: true, ChartCache: mustCache(t, t.TempDir())})
	found := false
	for _, f := range e.Findings {
		found = found || f.File == "overlays/test/cluster-vars.env" && strings.Contains(f.Message, "not a regular file")
	}
	if !found {
		t.Errorf("no finding for the linked cluster-vars.env among:\n%s", findingsText(e.Findings))
	}
	for _, o := range e.Objects {
		if strings.Contains(fmt.Sprint(o.Object), "s3cr3t") {
			t.Errorf("%s holds the linked file's value", o.Ref())
		}
	}
}
