package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	securefs "github.com/fluxcd/pkg/kustomize/filesys"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// buildMu serialises kustomize runs: kustomize keeps global state.
var buildMu sync.Mutex

// secureBuild builds dirPath confined to root with the options
// kustomize-controller's SecureBuild uses (files from outside the
// kustomization's directory but not outside root, builtin plugins only).
//
// SecureBuild also resets kustomize's global OpenAPI schema around every
// build, so that a kustomization's `openapi:` schema cannot leak into the
// next. That costs a parse of the builtin Kubernetes schema per build, about
// half the time of validating this repository. When no kustomization under
// dirPath's tree declares `openapi:`, the schema stays the builtin one and
// the result is the same without the reset; otherwise SecureBuild runs as is.
func secureBuild(root, dirPath string, customSchema bool) (resmap.ResMap, error) {
	if customSchema {
		return fluxkustomize.SecureBuild(root, dirPath, false)
	}
	fs, err := securefs.MakeFsOnDiskSecure(root)
	if err != nil {
		return nil, err
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	return run(k, fs, dirPath)
}

// run runs k and turns a kustomize panic into an error, as SecureBuild does.
func run(k *krusty.Kustomizer, fs filesys.FileSystem, dirPath string) (res resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
		}
	}()
	return k.Run(fs, dirPath)
}

// declaresOpenAPI reports whether any kustomization file under root sets
// the `openapi` field.
func declaresOpenAPI(root string) bool {
	found := false
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() {
			return nil
		}
		for _, name := range konfig.RecognizedKustomizationFileNames() {
			if d.Name() != name {
				continue
			}
			data, err := os.ReadFile(p)
			// An alias bomb is reported by the build that reads it.
			if err != nil || manifest.CheckYAMLAliases(data) != nil {
				return nil
			}
			var k struct {
				OpenAPI map[string]any `json:"openapi"`
			}
			if yaml.Unmarshal(data, &k) == nil && len(k.OpenAPI) > 0 {
				found = true
			}
		}
		return nil
	})
	return found
}
