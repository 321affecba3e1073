package app

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// buildRepo is this repository, seen from this package.
const buildRepo = "../../.."

// buildEnv returns GITOPS_LOCAL_* settings pointing the chart cache at a
// temporary directory seeded with the upstream archives of every pinned
// chart, or skips the test when they are absent.
func buildEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{chartcache.EnvDir: testutil.ChartCache(t, buildRepo, false).Dir()}
}

// docs decodes build's YAML output into objects.
func docs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var o map[string]any
		if err := dec.Decode(&o); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("output is not YAML documents: %v", err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

func TestBuildLocal(t *testing.T) {
	env := buildEnv(t)
	r := run(t, env, "build", "local", "--offline", "--repo", buildRepo, "--var", "CHART_REGISTRY=registry.test:5000")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	objs := docs(t, r.stdout)
	var image, chartURL string
	for _, o := range objs {
		md, _ := o["metadata"].(map[string]any)
		switch {
		case o["kind"] == "Deployment" && md["name"] == "ghillie":
			spec := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			image, _ = spec["containers"].([]any)[0].(map[string]any)["image"].(string)
		case o["kind"] == "OCIRepository" && md["name"] == "ghillie-chart":
			chartURL, _ = o["spec"].(map[string]any)["url"].(string)
		}
	}
	if image != "ghillie:local" {
		t.Errorf("ghillie image %q, want ghillie:local", image)
	}
	if chartURL != "oci://registry.test:5000/charts/ghillie" {
		t.Errorf("chart url %q: --var CHART_REGISTRY not applied", chartURL)
	}
	if !strings.Contains(r.stderr, "✔ local: ") || strings.Contains(r.stdout, "✔") {
		t.Errorf("summary not on stderr only: stderr %q", r.stderr)
	}

	// -o json prints the same objects as one v1 List.
	j := run(t, env, "build", "local", "--offline", "--repo", buildRepo, "--var", "CHART_REGISTRY=registry.test:5000", "-o", "json")
	if j.code != ExitOK {
		t.Fatalf("json: exit %d, stderr:\n%s", j.code, j.stderr)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &list); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	if list.Kind != "List" || len(list.Items) != len(objs) {
		t.Errorf("-o json: kind %q with %d items, YAML had %d objects", list.Kind, len(list.Items), len(objs))
	}
}

func TestBuildRedactsSecrets(t *testing.T) {
	// A copy of the repository whose staging overlay also applies a Secret
	// with data and stringData, so that redaction is always exercised.
	root := t.TempDir()
	for _, d := range []string{"gitops", "overlays", "charts"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join(buildRepo, d))); err != nil {
			t.Fatal(err)
		}
	}
	const secretValue = "s3cr3t-never-printed"
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: redaction-probe\n  namespace: flux-system\n" +
		"data:\n  token: " + base64.StdEncoding.EncodeToString([]byte(secretValue)) + "\n" +
		"stringData:\n  password: " + secretValue + "\n"
	if err := os.WriteFile(filepath.Join(root, "overlays", "staging", "redaction-probe.yaml"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Edit(t, root, "overlays/staging/kustomization.yaml", "  - ghillie.yaml\n", "  - ghillie.yaml\n  - redaction-probe.yaml\n")

	r := run(t, buildEnv(t), "build", "staging", "--offline", "--repo", root)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, secretValue) || strings.Contains(r.stdout, base64.StdEncoding.EncodeToString([]byte(secretValue))) {
		t.Error("the build printed a secret value")
	}
	probe := false
	for _, o := range docs(t, r.stdout) {
		if o["kind"] != "Secret" {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		probe = probe || md["name"] == "redaction-probe"
		for _, field := range []string{"data", "stringData"} {
			m, _ := o[field].(map[string]any)
			for k, v := range m {
				if v != "REDACTED" {
					t.Errorf("Secret %v: %s.%s printed", md["name"], field, k)
				}
			}
		}
	}
	if !probe {
		t.Error("the build does not list the Secret the overlay applies")
	}
}

func TestBuildFindingsExitOne(t *testing.T) {
	env := buildEnv(t)
	root := t.TempDir()
	for _, d := range []string{"gitops", "overlays", "charts"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join(buildRepo, d))); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(root, "overlays", "local", "ghillie.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "              tag: local\n", "              tag: local\n              tagg: oops\n", 1)
	if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "build", "local", "--offline", "--repo", root)
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, ExitFindings, r.stderr)
	}
	want := "gitops/apps/ghillie/app/helmrelease.yaml:1: [local] HelmRelease/ghillie/ghillie: spec.values.image.tagg: unknown key"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not report %q:\n%s", want, r.stderr)
	}
	if len(docs(t, r.stdout)) == 0 {
		t.Error("nothing printed: build must print what it could build")
	}
}

func TestBuildBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"build"}, "accepts 1 arg"},
		{[]string{"build", "nowhere", "--repo", buildRepo, "--offline"}, `unknown environment "nowhere"`},
		{[]string{"build", "local", "--repo", os.TempDir(), "--offline"}, "has no overlays/ directory"},
	}
	for _, tc := range cases {
		r := run(t, nil, tc.args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q, want %d and %q", tc.args, r.code, r.stderr, ExitFailure, tc.want)
		}
	}
}
