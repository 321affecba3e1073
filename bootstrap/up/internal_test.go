package up

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
)

func TestReadVars(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cluster-vars.env")
	if err := os.WriteFile(p, []byte("# comment\n\nCHART_REGISTRY = reg:5000\nEMPTY=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars, err := readVars(p)
	if err != nil {
		t.Fatal(err)
	}
	if vars["CHART_REGISTRY"] != "reg:5000" || len(vars) != 2 {
		t.Errorf("vars = %v", vars)
	}
	if err := os.WriteFile(p, []byte("OK=1\nno equals sign\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readVars(p); err == nil || !strings.Contains(err.Error(), p+":2: want KEY=value") {
		t.Errorf("bad line gave %v", err)
	}
	// A link to a file elsewhere on the machine is not read.
	secret := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(secret, []byte("aws_secret_access_key=s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "cluster-vars.env")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	if vars, err := readVars(link); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a symbolic link gave %v, %v", vars, err)
	}
}

func TestRootObjects(t *testing.T) {
	objs, err := rootObjects("local", "registry.local:5000", map[string]string{"CHART_REGISTRY": "registry.local:5000"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, o := range objs {
		if o.GetNamespace() != RootName || o.GetName() == "" {
			t.Errorf("%s %s/%s outside %s", o.GetKind(), o.GetNamespace(), o.GetName(), RootName)
		}
		if _, ok := o.Object["status"]; ok {
			t.Errorf("%s carries a status", o.GetKind())
		}
		spec, _ := o.Object["spec"].(map[string]any)
		got[o.GetKind()] = spec
	}
	if got["OCIRepository"]["url"] != "oci://registry.local:5000/"+ArtifactRepo || got["OCIRepository"]["insecure"] != true {
		t.Errorf("OCIRepository spec = %v", got["OCIRepository"])
	}
	if got["Kustomization"]["path"] != "./overlays/local" || got["Kustomization"]["prune"] != true {
		t.Errorf("Kustomization spec = %v", got["Kustomization"])
	}
	if len(objs) != 3 {
		t.Errorf("want ConfigMap, OCIRepository and Kustomization, got %d objects", len(objs))
	}
}

func TestNewRejectsMissingInput(t *testing.T) {
	cache, _ := chartcache.New(t.TempDir())
	repo := filepath.Join("..", "..")
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no cluster", Options{RepoRoot: repo, RegistryPush: "r:1", Charts: cache}, "no cluster"},
		{"no registry", Options{RepoRoot: repo, Config: &rest.Config{Host: "https://127.0.0.1:1"}, Charts: cache}, "no registry"},
		{"unknown environment", Options{RepoRoot: repo, Environment: "nope", Config: &rest.Config{Host: "https://127.0.0.1:1"}, RegistryPush: "r:1", Charts: cache}, `environment "nope" not found`},
		{"registry given as a URL", Options{RepoRoot: repo, Config: &rest.Config{Host: "https://127.0.0.1:1"}, RegistryPush: "oci://r:1", Charts: cache}, "invalid registry address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestImageIDVariable: up writes the imported image's ID; sync, which
// imports nothing, keeps what the cluster has, so it does not roll the
// pods back to the placeholder of cluster-vars.env.
func TestImageIDVariable(t *testing.T) {
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const old = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: gitops.FluxNamespace, Name: ClusterVars},
		Data:       map[string]string{ImageIDVariable: old, RegistryVariable: "r:5000"},
	}
	s, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(cm).Build()
	current, err := clusterVars(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, imported string
		current        map[string]string
		want           string
	}{
		{"up imported an image", id, current, id},
		{"sync keeps the cluster's", "", current, old},
		{"first run without an import", "", nil, "none"},
	} {
		vars := map[string]string{ImageIDVariable: "none"}
		setImageID(vars, tc.imported, tc.current)
		if vars[ImageIDVariable] != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, ImageIDVariable, vars[ImageIDVariable], tc.want)
		}
	}
	empty := fake.NewClientBuilder().WithScheme(s).Build()
	if got, err := clusterVars(context.Background(), empty); err != nil || got != nil {
		t.Errorf("no ConfigMap yet: %v, %v", got, err)
	}
}
