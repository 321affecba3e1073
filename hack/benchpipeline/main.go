// Command benchpipeline times `gitops-local validate` of every environment,
// cold (--no-cache, when the binary lists it) and warm, against the
// pipeline Flux users script for the same work on the same tree: kustomize
// build of each overlay and of each Flux Kustomization's path, Flux's
// ${var} substitution, helm template of each HelmRelease with its values,
// and kubeconform -strict against JSON schemas converted offline from the
// Kubernetes OpenAPI document and the CRDs the environments install.
//
//	make bench-pipeline                        # builds, warms the chart cache, 5 rounds
//	go run ./hack/benchpipeline -n 9 -bin bin/gitops-local -repo .
//
// kustomize, helm and kubeconform are installed once, at the versions in
// bootstrap/versions, with go install (hack/benchtools). The schema
// conversion runs once before timing and is reported on its own. Rounds are
// interleaved (every contender once per round) and medians compared.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/versions"
	"github.com/leynos/gitops-local/hack/benchtools"
)

func main() { benchtools.Main("benchpipeline", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchpipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 5, "measured rounds")
	bin := fs.String("bin", "bin/gitops-local", "gitops-local binary")
	repo := fs.String("repo", ".", "repository root")
	swagger := fs.String("openapi", "", "Kubernetes OpenAPI v2 document for the built-in kinds' schemas (default: api/openapi-spec/swagger.json of k8s.io/kubernetes at the pinned version, from the Go module cache)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}
	tool, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	charts, err := chartcache.DefaultDir(os.LookupEnv)
	if err != nil {
		return err
	}
	toolDir, err := benchtools.Dir()
	if err != nil {
		return err
	}
	p := &pipeline{repo: root, charts: charts, kubeVersion: kubeVersion()}
	for t, dst := range map[benchtools.Tool]*string{benchtools.Kustomize: &p.kustomize, benchtools.Helm: &p.helm, benchtools.Kubeconform: &p.kubecfm} {
		if *dst, err = t.Ensure(ctx, toolDir, stderr); err != nil {
			return err
		}
	}
	noCache, err := benchtools.SupportsNoCache(ctx, tool)
	if err != nil {
		return err
	}
	envs, err := gitops.Environments(root)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return fmt.Errorf("no environment under %s", filepath.Join(root, gitops.OverlaysDir))
	}
	if p.work, err = os.MkdirTemp("", "benchpipeline-"); err != nil {
		return err
	}
	defer os.RemoveAll(p.work)

	// The schemas: a render of every environment finds the CRDs the
	// charts install; they, the Flux CRDs and the built-in kinds are
	// converted once.
	var rendered [][]byte
	for _, env := range envs {
		out, err := p.run(ctx, env)
		if err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
		rendered = append(rendered, out)
	}
	schemaDir := filepath.Join(p.work, "schemas")
	if err := os.Mkdir(schemaDir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	conv, err := convertSchemas(ctx, schemaDir, *swagger, rendered)
	if err != nil {
		return err
	}
	convTook := time.Since(start)
	p.kubeconformArgs = []string{"-schema-location", filepath.Join(schemaDir, "{{ .ResourceKind }}{{ .KindSuffix }}.json")}
	if conv.builtins == 0 {
		p.kubeconformArgs = append(p.kubeconformArgs, "-ignore-missing-schemas")
	}

	coldNote := "--no-cache"
	if !noCache {
		coldNote = "this build has no --no-cache: the same command as warm"
	}
	pipe := &benchtools.Contender{Name: "pipeline", Note: "kustomize + envsubst + helm template + kubeconform -strict, every environment", Run: func(ctx context.Context) error {
		for _, env := range envs {
			if _, err := p.run(ctx, env); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
		return nil
	}}
	cold := &benchtools.Contender{Name: "validate cold", Note: coldNote, Run: func(ctx context.Context) error {
		_, err := benchtools.Exec(ctx, root, nil, append([]string{tool}, benchtools.Cold(noCache, "validate")...)...)
		return err
	}}
	warm := &benchtools.Contender{Name: "validate warm", Note: "result cache as left by the previous run", Run: func(ctx context.Context) error {
		_, err := benchtools.Exec(ctx, root, nil, tool, "validate")
		return err
	}}
	cs := []*benchtools.Contender{cold, warm, pipe}
	if err := benchtools.Interleave(ctx, *n, cs, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d rounds over %d environments (%s); kustomize %s, helm %s, kubeconform %s\n",
		*n, len(envs), strings.Join(envs, ", "), versions.BenchKustomize, versions.BenchHelm, versions.BenchKubeconform)
	fmt.Fprintf(stdout, "one-off schema conversion: %s (%d built-in schemas from %s, %d CRD schemas from the Flux CRDs and the charts' CRDs)\n",
		strings.TrimSpace(benchtools.Ms(convTook)), conv.builtins, conv.source, conv.crds)
	if conv.builtins == 0 {
		fmt.Fprintln(stdout, "NOTE: no Kubernetes OpenAPI document: kubeconform runs with -ignore-missing-schemas and skips built-in kinds, which flatters the pipeline")
	}
	if len(p.dropped) > 0 {
		fmt.Fprintf(stdout, "charts unpacked once before timing; dependencies the cached archives lack, dropped from Chart.yaml for helm template: %s\n", strings.Join(p.dropped, ", "))
	}
	for _, env := range envs {
		fmt.Fprintf(stdout, "kubeconform, %s: %s\n", env, p.summaries[env])
	}
	if len(p.invalid) > 0 {
		fmt.Fprintln(stdout, "kubeconform's findings (the pipeline's work is timed all the same; CRD schemas are checked without the API server's defaults):")
		seen := map[string]bool{}
		for _, l := range p.invalid {
			if !seen[l] {
				seen[l] = true
				fmt.Fprintln(stdout, "  "+l)
			}
		}
	}
	benchtools.Report(stdout, cs, [][2]*benchtools.Contender{{cold, pipe}, {warm, pipe}})
	return nil
}

type conversion struct {
	builtins, crds int
	source         string
}

// convertSchemas writes the JSON schemas kubeconform reads into dir.
func convertSchemas(ctx context.Context, dir, swaggerPath string, rendered [][]byte) (conversion, error) {
	var c conversion
	if swaggerPath == "" {
		swaggerPath = moduleSwagger(ctx)
	}
	if swaggerPath != "" {
		data, err := os.ReadFile(swaggerPath)
		if err != nil {
			return c, err
		}
		s, err := builtinSchemas(data)
		if err != nil {
			return c, fmt.Errorf("%s: %w", swaggerPath, err)
		}
		if err := writeSchemas(dir, s); err != nil {
			return c, err
		}
		c.builtins, c.source = len(s), swaggerPath
	}
	streams := append([][]byte{flux.ManifestYAML()}, rendered...)
	seen := map[string]bool{}
	for _, st := range streams {
		docs, err := benchtools.DecodeYAML(st)
		if err != nil {
			return c, err
		}
		for _, d := range docs {
			if d["kind"] != "CustomResourceDefinition" {
				continue
			}
			s, err := crdSchemas(d)
			if err != nil {
				return c, err
			}
			for name := range s {
				if seen[name] {
					delete(s, name)
				}
				seen[name] = true
			}
			if err := writeSchemas(dir, s); err != nil {
				return c, err
			}
			c.crds += len(s)
		}
	}
	return c, nil
}

// moduleSwagger finds the OpenAPI document k8s.io/kubernetes ships, at the
// pinned Kubernetes version, in the Go module cache (the control plane's
// build puts it there), or "" when it is not there.
func moduleSwagger(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "k8s.io/kubernetes@"+versions.Kubernetes)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return ""
	}
	var m struct{ Dir string }
	if json.Unmarshal(out.Bytes(), &m) != nil || m.Dir == "" {
		return ""
	}
	p := filepath.Join(m.Dir, "api", "openapi-spec", "swagger.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// kubeVersion is the Kubernetes version of the pinned k3s image, the one
// gitops-local renders charts for.
func kubeVersion() string {
	tag := versions.K3sImage[strings.LastIndex(versions.K3sImage, ":")+1:]
	v, _, _ := strings.Cut(tag, "-")
	return v
}
