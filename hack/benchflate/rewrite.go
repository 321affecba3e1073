package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/hack/benchtools"
)

type obj = map[string]any

// endpoints are where the copy's chart sources point.
type endpoints struct {
	// HelmRepo is the base URL of the HTTP Helm repository.
	HelmRepo string
	// Registry is the host:port of the OCI registry holding every chart
	// under charts/<name>.
	Registry string
	// Vars override the environments' cluster-vars.env values.
	Vars map[string]string
}

// copyRepo copies what an environment build reads (overlays/, gitops/,
// charts/) from src into dst and rewrites the copy for a renderer that
// fetches its charts (flate):
//   - every HelmRepository points at the loopback HTTP Helm repository
//     (its type oci dropped);
//   - every OCIRepository serving one of the repository's own charts
//     (oci://.../charts/<name> with charts/<name> in the tree) points at the
//     loopback registry, insecure;
//   - each environment gets its cluster-vars ConfigMap from its
//     cluster-vars.env, which gitops-local reads as that ConfigMap's data
//     and a Flux cluster holds in the cluster, with e.Vars overriding it
//     (the local environment's patches point its HelmRepositories at
//     oci://${CHART_REGISTRY}/charts);
//   - dst becomes a git work tree, which flate takes as the repository
//     root.
func copyRepo(src, dst string, e endpoints) error {
	for _, d := range []string{gitops.OverlaysDir, "gitops", "charts"} {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(filepath.Join(src, d))); err != nil {
			return fmt.Errorf("copying %s: %w", d, err)
		}
	}
	ownCharts := map[string]bool{}
	if entries, err := os.ReadDir(filepath.Join(dst, "charts")); err == nil {
		for _, en := range entries {
			ownCharts[en.Name()] = en.IsDir()
		}
	}
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(dst, "charts") {
			return filepath.SkipDir
		}
		if d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return nil
		}
		return rewriteFile(p, e, ownCharts)
	})
	if err != nil {
		return err
	}
	envs, err := gitops.Environments(dst)
	if err != nil {
		return err
	}
	for _, env := range envs {
		if err := addVarsConfigMap(filepath.Join(dst, gitops.OverlaysDir, env), e.Vars); err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
	}
	return os.MkdirAll(filepath.Join(dst, ".git"), 0o755)
}

// rewriteFile rewrites the chart sources in one YAML file; a file holding
// none is left byte for byte.
func rewriteFile(p string, e endpoints, ownCharts map[string]bool) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	docs, err := benchtools.DecodeYAML(data)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	changed := false
	for _, o := range docs {
		if rewriteSource(o, e, ownCharts) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	var out bytes.Buffer
	for i, o := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		out.Write(b)
	}
	return os.WriteFile(p, out.Bytes(), 0o644)
}

// rewriteSource points a HelmRepository or an OCIRepository of the
// repository's own chart at the loopback servers, reporting whether it
// changed o.
func rewriteSource(o obj, e endpoints, ownCharts map[string]bool) bool {
	if !strings.HasPrefix(str(o["apiVersion"]), "source.toolkit.fluxcd.io/") {
		return false
	}
	spec, _ := o["spec"].(obj)
	if spec == nil {
		return false
	}
	switch o["kind"] {
	case "HelmRepository":
		spec["url"] = e.HelmRepo + "/"
		delete(spec, "type")
		return true
	case "OCIRepository":
		url := str(spec["url"])
		name := path.Base(url)
		if !ownCharts[name] || !strings.HasSuffix(url, "/charts/"+name) {
			return false
		}
		spec["url"] = "oci://" + e.Registry + "/charts/" + name
		spec["insecure"] = true
		return true
	}
	return false
}

// addVarsConfigMap writes the cluster-vars ConfigMap of an environment
// from its cluster-vars.env, overridden by override, and adds it to the
// overlay's resources.
func addVarsConfigMap(dir string, override map[string]string) error {
	data, err := gitops.ReadVarsFile(filepath.Join(dir, gitops.VarsFile))
	if err != nil {
		return err
	}
	vars, bad := gitops.ParseVars(data)
	if len(bad) > 0 {
		return fmt.Errorf("%s: malformed lines %v", gitops.VarsFile, bad)
	}
	maps.Copy(vars, override)
	cm := obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "cluster-vars", "namespace": "flux-system"}, "data": vars}
	b, err := yaml.Marshal(cm)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster-vars.yaml"), b, 0o644); err != nil {
		return err
	}
	kp := filepath.Join(dir, "kustomization.yaml")
	kd, err := os.ReadFile(kp)
	if err != nil {
		return err
	}
	var k obj
	if err := yaml.Unmarshal(kd, &k); err != nil {
		return fmt.Errorf("%s: %w", kp, err)
	}
	res, _ := k["resources"].([]any)
	if !slices.Contains(res, any("cluster-vars.yaml")) {
		k["resources"] = append(res, "cluster-vars.yaml")
	}
	out, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	return os.WriteFile(kp, out, 0o644)
}

func str(v any) string { s, _ := v.(string); return s }
