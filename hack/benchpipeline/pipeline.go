package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/envsubst"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/hack/benchtools"
)

// pipeline is what a Flux user scripts to check an environment without
// gitops-local: kustomize build of the overlay, then of each Flux
// Kustomization's path (its patches applied through a wrapping
// kustomization), Flux's ${var} substitution with fluxcd/pkg/envsubst (the
// package kustomize-controller substitutes with), helm template of each
// HelmRelease with its inline values, and kubeconform -strict over all of
// it. It does what this repository's environments need and no more: the
// variables are those of the environment's cluster-vars.env (the
// cluster-vars ConfigMap), and targetNamespace, namePrefix, inline
// postBuild.substitute and HelmRelease valuesFrom, which the repository
// does not use, are not applied.
type pipeline struct {
	repo, charts, work       string
	kustomize, helm, kubecfm string
	kubeVersion              string
	// kubeconformArgs are the schema flags; empty means render only.
	kubeconformArgs []string
	// unpacked maps a cached archive to its unpacked folder; dropped lists
	// the dependencies removed from their Chart.yaml (see unpackChart).
	unpacked map[string]string
	dropped  []string
	// summaries hold kubeconform's summary line of each environment's
	// last run, invalid its findings.
	summaries map[string]string
	invalid   []string
}

// summaryLine is kubeconform's "Summary: ..." line (-summary), or "".
func summaryLine(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Summary:") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// invalidLines are kubeconform's lines reporting an invalid object.
func invalidLines(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " is invalid: ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// obj is a decoded YAML document.
type obj = map[string]any

// run renders env and, when kubeconformArgs are set, checks the result.
// It returns the rendered stream.
func (p *pipeline) run(ctx context.Context, env string) ([]byte, error) {
	vars, err := readVars(filepath.Join(p.repo, gitops.OverlaysDir, env, gitops.VarsFile))
	if err != nil {
		return nil, err
	}
	top, err := p.kustomizeBuild(ctx, filepath.Join(gitops.OverlaysDir, env), nil)
	if err != nil {
		return nil, err
	}
	var all bytes.Buffer
	all.Write(top)
	docs, err := benchtools.DecodeYAML(top)
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", env, err)
	}
	for _, ks := range docs {
		if ks["kind"] != "Kustomization" || !strings.HasPrefix(str(ks["apiVersion"]), "kustomize.toolkit.fluxcd.io/") {
			continue
		}
		spec, _ := ks["spec"].(obj)
		dir := path.Clean(strings.TrimPrefix(str(spec["path"]), "./"))
		patches, _ := spec["patches"].([]any)
		out, err := p.kustomizeBuild(ctx, dir, patches)
		if err != nil {
			return nil, err
		}
		sub, err := envsubst.Eval(string(out), func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		if err != nil {
			return nil, fmt.Errorf("substituting %s: %w", dir, err)
		}
		all.WriteString("---\n")
		all.WriteString(sub)
		objs, err := benchtools.DecodeYAML([]byte(sub))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		for _, hr := range objs {
			if hr["kind"] != "HelmRelease" {
				continue
			}
			rendered, err := p.helmTemplate(ctx, hr, objs)
			if err != nil {
				return nil, err
			}
			all.WriteString("---\n")
			all.Write(rendered)
		}
	}
	if len(p.kubeconformArgs) > 0 {
		args := append([]string{p.kubecfm, "-strict", "-summary"}, p.kubeconformArgs...)
		out, err := benchtools.Output(ctx, p.repo, bytes.NewReader(all.Bytes()), args...)
		summary := summaryLine(out)
		if err != nil && (exitCode(err) != 1 || summary == "") {
			return nil, fmt.Errorf("%w\n%s", err, out)
		}
		// Exit 1 with a summary: kubeconform ran and found invalid
		// objects. The work is done all the same; the report says so.
		if p.summaries == nil {
			p.summaries = map[string]string{}
		}
		p.summaries[env] = summary
		if err != nil {
			p.invalid = append(p.invalid, invalidLines(out)...)
		}
	}
	return all.Bytes(), nil
}

// kustomizeBuild runs kustomize build on dir (relative to the repository);
// with patches it builds a wrapping kustomization as kustomize-controller
// does with a Flux Kustomization's spec.patches.
func (p *pipeline) kustomizeBuild(ctx context.Context, dir string, patches []any) ([]byte, error) {
	target := filepath.Join(p.repo, dir)
	if len(patches) > 0 {
		wrap, err := os.MkdirTemp(p.work, "patched-")
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(wrap, target)
		if err != nil {
			return nil, err
		}
		k := obj{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": []any{rel}, "patches": patches}
		data, err := yaml.Marshal(k)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(wrap, "kustomization.yaml"), data, 0o600); err != nil {
			return nil, err
		}
		target = wrap
	}
	return benchtools.Output(ctx, p.repo, nil, p.kustomize, "build", "--load-restrictor", "LoadRestrictionsNone", target)
}

// helmTemplate renders a HelmRelease with helm template: the chart from
// charts/<name> for an OCIRepository chartRef to the repository's own
// chart, else <name>-<version>.tgz from the chart cache.
func (p *pipeline) helmTemplate(ctx context.Context, hr obj, objs []obj) ([]byte, error) {
	meta, _ := hr["metadata"].(obj)
	spec, _ := hr["spec"].(obj)
	name, ns := str(meta["name"]), str(meta["namespace"])
	chart, err := p.chartOf(hr, objs)
	if err != nil {
		return nil, fmt.Errorf("HelmRelease %s/%s: %w", ns, name, err)
	}
	release := name
	if r := str(spec["releaseName"]); r != "" {
		release = r
	}
	if t := str(spec["targetNamespace"]); t != "" {
		ns = t
	}
	values, _ := spec["values"].(obj)
	data, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	vf, err := os.CreateTemp(p.work, "values-*.json")
	if err != nil {
		return nil, err
	}
	_, err = vf.Write(data)
	if cerr := vf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	args := []string{p.helm, "template", release, chart, "--namespace", ns, "--values", vf.Name(), "--kube-version", p.kubeVersion}
	if install, _ := spec["install"].(obj); str(install["crds"]) != "Skip" {
		args = append(args, "--include-crds")
	}
	return benchtools.Output(ctx, p.repo, nil, args...)
}

func (p *pipeline) chartOf(hr obj, objs []obj) (string, error) {
	spec, _ := hr["spec"].(obj)
	if ref, ok := spec["chartRef"].(obj); ok {
		for _, o := range objs {
			m, _ := o["metadata"].(obj)
			if o["kind"] == str(ref["kind"]) && str(m["name"]) == str(ref["name"]) {
				s, _ := o["spec"].(obj)
				local := filepath.Join(p.repo, "charts", path.Base(str(s["url"])))
				if _, err := os.Stat(local); err != nil {
					return "", fmt.Errorf("spec.chartRef: %w", err)
				}
				return local, nil
			}
		}
		return "", fmt.Errorf("spec.chartRef %s/%s is not in the same Kustomization", ref["kind"], ref["name"])
	}
	chart, _ := spec["chart"].(obj)
	cs, _ := chart["spec"].(obj)
	f := filepath.Join(p.charts, str(cs["chart"])+"-"+str(cs["version"])+".tgz")
	if d, ok := p.unpacked[f]; ok {
		return d, nil
	}
	if _, err := os.Stat(f); err != nil {
		return "", fmt.Errorf("spec.chart.spec: %w (run make charts)", err)
	}
	dir, err := os.MkdirTemp(p.work, "chart-")
	if err != nil {
		return "", err
	}
	d, dropped, err := unpackChart(f, dir)
	if err != nil {
		return "", err
	}
	for _, name := range dropped {
		p.dropped = append(p.dropped, filepath.Base(f)+": "+name)
	}
	if p.unpacked == nil {
		p.unpacked = map[string]string{}
	}
	p.unpacked[f] = d
	return d, nil
}

func readVars(p string) (map[string]string, error) {
	data, err := gitops.ReadVarsFile(p)
	if err != nil {
		return nil, err
	}
	vars, bad := gitops.ParseVars(data)
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: malformed lines %v", p, bad)
	}
	return vars, nil
}

func str(v any) string { s, _ := v.(string); return s }
