package gitops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	fluxversion "github.com/fluxcd/pkg/version"

	"github.com/santhosh-tekuri/jsonschema/v6"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
	"github.com/leynos/gitops-local/bootstrap/versions"
)

// loadedChart is a loaded chart, with where it came from. It is shared by
// the builds of one run (see RenderCache) and never modified.
type loadedChart struct {
	chart *chart.Chart
	// dir is the repository-relative chart directory for the repository's
	// own charts; empty for charts from the cache.
	dir string
	// digest identifies the chart's content: the SHA-256 of its archive, or
	// of its files for a directory.
	digest string

	// schema is the chart's values.schema.json compiled, nil when it has
	// none or it does not compile (see checkValues).
	schemaOnce sync.Once
	schema     *jsonschema.Schema
}

// filesDigest is the digest of a loaded chart's files, by name and content.
func filesDigest(ch *chart.Chart) string {
	h := sha256.New()
	for _, f := range ch.Raw {
		fmt.Fprintf(h, "%d:%s%d:", len(f.Name), f.Name, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadArchive loads the chart archive at p, once per run for each distinct
// archive content when the build shares a RenderCache.
func (b *builder) loadArchive(ctx context.Context, p string) (*loadedChart, error) {
	if lc, ok := b.chart(p); ok {
		return lc, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, loadError(p, err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	load := func() (*loadedChart, error) {
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			return nil, loadError(p, err)
		}
		return &loadedChart{chart: ch, digest: digest}, nil
	}
	var lc *loadedChart
	if b.opts.Renders != nil {
		lc, err = b.opts.Renders.charts.do(ctx, digest, load)
	} else {
		lc, err = load()
	}
	if err != nil {
		return nil, err
	}
	b.setChart(p, lc)
	return lc, nil
}

// loadError is the error of loading the chart archive at p, which failed
// with err: Helm's own, loading it by its path, for its clearer messages
// (not a chart archive, not gzip).
func loadError(p string, err error) error {
	if _, lerr := render.LoadChart(p); lerr != nil {
		return lerr
	}
	return fmt.Errorf("load chart %q: %w", p, err)
}

// chart returns the chart this build loaded from p, if it did.
func (b *builder) chart(p string) (*loadedChart, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lc, ok := b.charts[p]
	return lc, ok
}

// setChart remembers the chart this build loaded from p.
func (b *builder) setChart(p string, lc *loadedChart) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.charts[p] = lc
}

// resolveChart finds the chart of hr: the repository's own chart directory
// for an OCIRepository whose URL ends in the name of one, else the cached
// archive of the chart at its version.
func (b *builder) resolveChart(ctx context.Context, hr manifest.Object, index map[string]manifest.Object) (*loadedChart, bool) {
	var ref chartcache.Ref
	var field string
	// The values files of a HelmRepository chart, paths inside the chart.
	var valuesFiles []string
	var ignoreMissing bool
	if cr, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chartRef"); ok {
		field = "spec.chartRef"
		k, _ := cr["kind"].(string)
		name, _ := cr["name"].(string)
		ns, _ := cr["namespace"].(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		if k == "ExternalArtifact" {
			return b.artifactChart(ctx, hr, SourceRef{Kind: k, Namespace: ns, Name: name})
		}
		if k != "OCIRepository" {
			b.hrFinding(hr, field+".kind", fmt.Sprintf("chartRef kind %q is not supported by the offline build (use OCIRepository or ExternalArtifact)", k))
			return nil, false
		}
		src, ok := index["source.toolkit.fluxcd.io/OCIRepository/"+ns+"/"+name]
		if !ok {
			b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s is not deployed by this environment", ns, name))
			return nil, false
		}
		url, _, _ := unstructured.NestedString(src.Object, "spec", "url")
		chartName := path.Base(url)
		if lc, ok := b.localChart(chartName); ok {
			return b.withSourceDigest(ctx, hr, field, lc)
		}
		tag, _, _ := unstructured.NestedString(src.Object, "spec", "ref", "tag")
		digest, _, _ := unstructured.NestedString(src.Object, "spec", "ref", "digest")
		semverRange, _, _ := unstructured.NestedString(src.Object, "spec", "ref", "semver")
		switch {
		case digest != "":
			// A digest wins over semver and tag; the cache knows versions.
			b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s (%s) selects the chart by spec.ref.digest: the offline build needs a chart version (spec.ref.tag or spec.ref.semver)", ns, name, url))
			return nil, false
		case semverRange != "":
			held, err := b.opts.ChartCache.Versions(chartName)
			if err != nil {
				b.hrFinding(hr, field, err.Error())
				return nil, false
			}
			filter, _, _ := unstructured.NestedString(src.Object, "spec", "ref", "semverFilter")
			if tag, err = ociTagBySemver(held, semverRange, filter); err != nil {
				b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s (%s): chart %s: %v", ns, name, url, chartName, err))
				return nil, false
			}
		}
		if tag == "" {
			b.hrFinding(hr, field+".name", fmt.Sprintf("OCIRepository %s/%s (%s) has no spec.ref.tag or spec.ref.semver: the offline build needs a chart version", ns, name, url))
			return nil, false
		}
		ref = chartcache.Ref{Name: chartName, Version: tag, Repository: strings.TrimSuffix(url, "/"+chartName)}
	} else if spec, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chart", "spec"); ok {
		field = "spec.chart.spec"
		name, _ := spec["chart"].(string)
		version, _ := spec["version"].(string)
		sr, _ := spec["sourceRef"].(map[string]any)
		k, _ := sr["kind"].(string)
		srcName, _ := sr["name"].(string)
		ns, _ := sr["namespace"].(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		if k == "GitRepository" || k == "Bucket" {
			files, _, _ := unstructured.NestedStringSlice(hr.Object, "spec", "chart", "spec", "valuesFiles")
			ignore, _, _ := unstructured.NestedBool(hr.Object, "spec", "chart", "spec", "ignoreMissingValuesFiles")
			return b.sourceChart(ctx, hr, SourceRef{Kind: k, Namespace: ns, Name: srcName}, name, files, ignore)
		}
		if k != "HelmRepository" {
			b.hrFinding(hr, field+".sourceRef.kind", fmt.Sprintf("source kind %q is not one a HelmChart reads (HelmRepository, GitRepository, Bucket)", k))
			return nil, false
		}
		src, ok := index["source.toolkit.fluxcd.io/HelmRepository/"+ns+"/"+srcName]
		if !ok {
			b.hrFinding(hr, field+".sourceRef.name", fmt.Sprintf("HelmRepository %s/%s is not deployed by this environment", ns, srcName))
			return nil, false
		}
		url, _, _ := unstructured.NestedString(src.Object, "spec", "url")
		repoType, _, _ := unstructured.NestedString(src.Object, "spec", "type")
		held, err := b.opts.ChartCache.Versions(name)
		if err != nil {
			b.hrFinding(hr, field, err.Error())
			return nil, false
		}
		resolved, err := chartVersion(held, version, repoType == "oci")
		if err != nil {
			b.hrFinding(hr, field+".version", fmt.Sprintf("chart %s from %s: %v", name, url, err))
			return nil, false
		}
		version = resolved
		ref = chartcache.Ref{Name: name, Version: version, Repository: url}
		valuesFiles, _, _ = unstructured.NestedStringSlice(hr.Object, "spec", "chart", "spec", "valuesFiles")
		ignoreMissing, _, _ = unstructured.NestedBool(hr.Object, "spec", "chart", "spec", "ignoreMissingValuesFiles")
		// A pinned platform chart is pulled from where the pin says, even
		// when the environment reads it from a mirror (the local registry).
		if pin, ok := versions.ChartByName(name); ok && pin.Version == version {
			ref.Repository = pin.Repository
		}
	} else {
		b.hrFinding(hr, "spec.chart", "neither spec.chart nor spec.chartRef is set")
		return nil, false
	}

	var p string
	var err error
	if b.opts.Offline {
		p, err = b.opts.ChartCache.Lookup(ref)
	} else {
		p, err = b.opts.ChartCache.Get(ctx, ref)
	}
	if err != nil {
		b.hrFinding(hr, field, err.Error())
		return nil, false
	}
	lc, err := b.loadArchive(ctx, p)
	if err != nil {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s: %v", ref, err))
		return nil, false
	}
	if len(valuesFiles) > 0 {
		return b.repositoryChartValues(hr, lc, valuesFiles, ignoreMissing)
	}
	return lc, true
}

// chartVersion is the version of a chart source-controller v1.9.6 picks
// for the version (an exact version, a semver range, or empty or "*" for
// the latest stable one) among held, the versions the chart cache holds,
// standing for the repository's index or tags (internal/helm/repository
// chart_repository.go getChartVersion and oci_chart_repository.go
// getLastMatchingVersionOrConstraint): an exact string match first; for an
// OCI repository a valid version as it is; else the highest version the
// Masterminds semver constraint accepts (pre-releases only when the range
// names one). Versions that differ only in build metadata, which
// source-controller orders by the index's creation time, are ordered by
// their text here. An exact version the cache does not hold is returned as
// it is, for the cache to pull or report missing.
func chartVersion(held []string, version string, oci bool) (string, error) {
	if version != "" && slices.Contains(held, version) {
		return version, nil
	}
	_, verErr := fluxversion.ParseVersion(version)
	if oci && verErr == nil {
		return version, nil
	}
	constraint := "*"
	if version != "" {
		constraint = version
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("version %q is neither a version nor a semver range: %w", version, err)
	}
	var best *semver.Version
	for _, h := range held {
		v, err := fluxversion.ParseVersion(h)
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) || v.Equal(best) && v.Original() > best.Original() {
			best = v
		}
	}
	if best != nil {
		return best.Original(), nil
	}
	if verErr == nil {
		return version, nil
	}
	holds := "no version of it"
	if len(held) > 0 {
		holds = strings.Join(held, ", ")
	}
	return "", fmt.Errorf("no version matching %q in the chart cache, which holds %s", constraint, holds)
}

// ociTagBySemver is the chart version an OCIRepository with
// spec.ref.semver (and semverFilter) resolves to, as source-controller
// v1.9.6 picks the tag (internal/controller/ocirepository_controller.go
// getTagBySemver, filterTags): among held, the versions the chart cache
// holds standing for the registry's tags (a Helm chart's tag spells "+" as
// "_", which the filter sees), the highest the constraint accepts.
func ociTagBySemver(held []string, constraint, filter string) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("semver '%s' parse error: %w", constraint, err)
	}
	var match *regexp.Regexp
	if filter != "" {
		if match, err = regexp.Compile(filter); err != nil {
			return "", fmt.Errorf("semverFilter %q: %w", filter, err)
		}
	}
	var best *semver.Version
	for _, h := range held {
		if match != nil && !match.MatchString(strings.ReplaceAll(h, "+", "_")) {
			continue
		}
		v, err := fluxversion.ParseVersion(h)
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) || v.Equal(best) && v.Original() > best.Original() {
			best = v
		}
	}
	if best == nil {
		holds := "no version of it"
		if len(held) > 0 {
			holds = strings.Join(held, ", ")
		}
		return "", fmt.Errorf("no version matching semver %q in the chart cache, which holds %s", constraint, holds)
	}
	return best.Original(), nil
}

// localChart loads charts/<name> from the repository, if it has one.
func (b *builder) localChart(name string) (*loadedChart, bool) {
	dir := path.Join("charts", name)
	full := filepath.Join(b.repoRoot, filepath.FromSlash(dir))
	if _, err := os.Stat(filepath.Join(full, "Chart.yaml")); err != nil {
		return nil, false
	}
	return b.dirChart(full, dir)
}

// dirChart loads the chart folder full (dir as findings name it), once
// per build; a chart that does not load is a finding.
func (b *builder) dirChart(full, dir string) (*loadedChart, bool) {
	if lc, ok := b.chart(full); ok {
		return lc, true
	}
	ch, err := render.LoadChart(full)
	if err != nil {
		var fe *render.ChartFileError
		if errors.As(err, &fe) {
			b.addFinding(manifest.Finding{File: path.Join(dir, fe.File), Message: fmt.Sprintf("chart %s: %v", dir, fe.Err)})
			return nil, false
		}
		b.addFinding(manifest.Finding{File: dir + "/Chart.yaml", Message: err.Error()})
		return nil, false
	}
	lc := &loadedChart{chart: ch, dir: dir, digest: filesDigest(ch)}
	b.setChart(full, lc)
	return lc, true
}
