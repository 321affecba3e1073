package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/gitops"
)

// writeFiles writes files (repository-relative path -> content) under a new
// temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestClusterScopedObjectsHaveNoNamespace: under targetNamespace, a
// ClusterRole (given a namespace in its manifest), a Namespace and a
// custom resource whose CRD (in the same environment) is cluster-scoped
// come out without a namespace, as the API server stores them, while a
// namespaced object gets the target namespace; and an ExternalSecret's
// reference to that ClusterSecretStore resolves (it used to name
// "ClusterSecretStore vault", which the build had put in namespace apps).
func TestClusterScopedObjectsHaveNoNamespace(t *testing.T) {
	crds := strings.Join(esoCRDs(), "---\n")
	root := writeFiles(t, map[string]string{
		"overlays/test/cluster-vars.env": "A=b\n",
		"overlays/test/ks.yaml": `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: crds, namespace: flux-system}
spec:
  interval: 10m
  path: ./gitops/crds
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./gitops/apps
  prune: true
  targetNamespace: apps
  dependsOn: [{name: crds}]
  sourceRef: {kind: OCIRepository, name: flux-system}
`,
		"gitops/crds/crds.yaml": crds,
		"gitops/apps/objects.yaml": `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader, namespace: somewhere}
rules: []
---
apiVersion: v1
kind: Namespace
metadata: {name: extra}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: vault}
spec: {}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: web}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: web-env}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
`,
	})
	cache, err := chartcache.New(t.TempDir(), chartcache.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	env, err := gitops.Build(context.Background(), root, "test", gitops.Options{Offline: true, ChartCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ClusterRole/reader":        "",
		"Namespace/extra":           "",
		"ClusterSecretStore/vault":  "",
		"ExternalSecret/web":        "apps",
		"ConfigMap/settings":        "apps",
		"CustomResourceDefinition/": "",
	}
	for _, o := range env.Objects {
		k := o.GetKind() + "/" + o.GetName()
		if o.GetKind() == "CustomResourceDefinition" {
			k = "CustomResourceDefinition/"
		}
		ns, ok := want[k]
		if !ok {
			continue
		}
		if o.GetNamespace() != ns {
			t.Errorf("%s: namespace %q, want %q", k, o.GetNamespace(), ns)
		}
	}
	fs := testChecker(t).CheckEnvironment(context.Background(), env)
	if len(fs) != 0 {
		t.Errorf("want no findings, got:\n%s", join(fs))
	}
}
