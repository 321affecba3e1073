package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// shape is the size of a generated repository.
type shape struct {
	// Envs is the number of environments, PerEnv the HelmReleases in each.
	Envs, PerEnv int
}

// Releases is the number of HelmReleases in the repository.
func (s shape) Releases() int { return s.Envs * s.PerEnv }

// shapeFor spreads total HelmReleases over up to five environments of
// equal size; total must be a positive multiple of the environment count.
func shapeFor(total int) (shape, error) {
	if total < 1 {
		return shape{}, fmt.Errorf("size %d: need at least one HelmRelease", total)
	}
	for envs := min(5, total); envs > 0; envs-- {
		if total%envs == 0 && total/envs >= 2 || envs == 1 {
			return shape{Envs: envs, PerEnv: total / envs}, nil
		}
	}
	return shape{Envs: 1, PerEnv: total}, nil
}

// upstream is the cached upstream chart every other release installs.
// external-dns brings one CRD under crds/; the releases skip it (Skip), so
// that the environment does not declare it once per release.
var upstream = func() versions.Chart {
	c, _ := versions.ChartByName("external-dns")
	return c
}()

// generate writes a Flux repository of s into dir, laid out as this
// project's (overlays/<env> with a cluster-vars.env and one Flux
// Kustomization per environment, gitops/<env>/app-<i> with the releases):
// even releases install charts/ghillie (copied from ghillie) through an
// OCIRepository chartRef, odd ones the pinned external-dns chart from a
// HelmRepository, each in its own namespace with its own values.
func generate(dir, ghillie string, s shape) error {
	if err := os.CopyFS(filepath.Join(dir, "charts", "ghillie"), os.DirFS(ghillie)); err != nil {
		return fmt.Errorf("copying the ghillie chart: %w", err)
	}
	for e := range s.Envs {
		env := fmt.Sprintf("env-%02d", e)
		files := map[string]string{
			filepath.Join("overlays", env, "cluster-vars.env"):   fmt.Sprintf("CHART_REGISTRY=ghcr.io/leynos\nCLUSTER_NAME=%s\nINGRESS_DOMAIN=%s.example.com\n", env, env),
			filepath.Join("overlays", env, "kustomization.yaml"): "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - apps.yaml\n",
			filepath.Join("overlays", env, "apps.yaml"):          fmt.Sprintf(fluxKustomization, env),
		}
		var apps []string
		for i := range s.PerEnv {
			app := fmt.Sprintf("app-%03d", i)
			apps = append(apps, "  - "+app)
			d := filepath.Join("gitops", env, app)
			files[filepath.Join(d, "kustomization.yaml")] = kustomization("namespace.yaml", "release.yaml")
			files[filepath.Join(d, "namespace.yaml")] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", app)
			if i%2 == 0 {
				files[filepath.Join(d, "kustomization.yaml")] = kustomization("namespace.yaml", "secret.yaml", "release.yaml")
				files[filepath.Join(d, "secret.yaml")] = fmt.Sprintf(ghillieSecret, app)
				files[filepath.Join(d, "release.yaml")] = fmt.Sprintf(ghillieRelease, app, i+1, i)
			} else {
				files[filepath.Join(d, "release.yaml")] = fmt.Sprintf(upstreamRelease, app, upstream.Repository, upstream.Name, upstream.Version, i)
			}
		}
		files[filepath.Join("gitops", env, "kustomization.yaml")] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + strings.Join(apps, "\n") + "\n"
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func kustomization(resources ...string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + strings.Join(resources, "\n  - ") + "\n"
}

const fluxKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: OCIRepository
    name: flux-system
  path: ./gitops/%s
  prune: true
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`

const ghillieSecret = `apiVersion: v1
kind: Secret
metadata:
  name: ghillie
  namespace: %s
stringData:
  DATABASE_URL: postgres://ghillie@db/ghillie
`

const ghillieRelease = `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: ghillie-chart
  namespace: %[1]s
spec:
  interval: 10m
  url: oci://${CHART_REGISTRY}/charts/ghillie
  ref:
    tag: 0.1.0
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ghillie
  namespace: %[1]s
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: ghillie-chart
  values:
    replicaCount: %[2]d
    image:
      repository: ghcr.io/leynos/ghillie
      tag: sha-%07[3]d
    env:
      normal:
        GHILLIE_ENV: ${CLUSTER_NAME}
    secrets:
      existingSecretName: ghillie
`

const upstreamRelease = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: %[1]s
spec:
  interval: 12h
  url: %[2]s
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: %[1]s
  namespace: %[1]s
spec:
  interval: 30m
  chart:
    spec:
      chart: %[3]s
      version: "%[4]s"
      sourceRef:
        kind: HelmRepository
        name: charts
  install:
    crds: Skip
  upgrade:
    crds: Skip
  values:
    txtOwnerId: ${CLUSTER_NAME}-%[5]d
    domainFilters:
      - ${INGRESS_DOMAIN}
`
