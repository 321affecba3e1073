package gitops

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDeclaresOpenAPI(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gitops/a/kustomization.yaml", "resources: [x.yaml]\n")
	write("gitops/a/x.yaml", "openapi:\n  path: schema.json\n") // not a kustomization file
	if declaresOpenAPI(root) {
		t.Fatal("a non-kustomization file counted")
	}
	write("overlays/b/kustomization.yml", "openapi:\n  path: schema.json\nresources: []\n")
	if !declaresOpenAPI(root) {
		t.Fatal("a kustomization with openapi: was missed")
	}
}
