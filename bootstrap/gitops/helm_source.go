package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/fluxcd/pkg/runtime/transform"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/publish"
)

// sourceChart is the chart of a HelmRelease whose spec.chart reads a
// folder of a GitRepository or Bucket: source-controller v1.9.6 builds it
// from that folder (internal/helm/chart/builder_local.go), its default
// values replaced by spec.chart.spec.valuesFiles merged in order
// (mergeFileValues, OverwriteChartDefaultValues). The source is the
// repository itself, a --source folder or a generated artifact.
func (b *builder) sourceChart(ctx context.Context, hr manifest.Object, src SourceRef, chartPath string, valuesFiles []string, ignoreMissing bool) (*loadedChart, bool) {
	const field = "spec.chart.spec"
	tree, err := b.treeOf(ctx, src)
	if err != nil {
		b.hrFinding(hr, field+".sourceRef", err.Error())
		return nil, false
	}
	full, err := securejoin.SecureJoin(tree.dir, chartPath)
	if err != nil {
		b.hrFinding(hr, field+".chart", fmt.Sprintf("chart path %q: %v", chartPath, err))
		return nil, false
	}
	if st, err := os.Stat(full); err != nil || !st.IsDir() {
		b.hrFinding(hr, field+".chart", fmt.Sprintf("chart path %q is not a folder of %s", chartPath, src))
		return nil, false
	}
	lc, ok := b.dirChart(full, b.rel(full))
	if !ok {
		return nil, false
	}
	// The version's build metadata (helmchart_controller.go
	// buildFromTarballArtifact): with spec.chart.spec.reconcileStrategy
	// Revision, the source's revision, then with values files the
	// HelmChart's generation: 1, that of the HelmChart helm-controller
	// creates for a new release.
	var versionMeta string
	if strategy, _, _ := unstructured.NestedString(hr.Object, "spec", "chart", "spec", "reconcileStrategy"); strategy == "Revision" {
		rev, known := b.opts.Revisions[src]
		if known {
			if versionMeta, ok = revisionMetadata(src.Kind, rev); !ok {
				b.hrFinding(hr, field+".reconcileStrategy", fmt.Sprintf("revision %q of %s: source-controller cannot put it in the chart's version", rev, src))
				return nil, false
			}
		}
	}
	if len(valuesFiles) > 0 {
		if versionMeta != "" {
			versionMeta += "."
		}
		versionMeta += "1"
	}
	if versionMeta == "" {
		return lc, true
	}
	ch := *lc.chart // a copy: the loaded chart is shared with other releases
	digest := lc.digest
	if len(valuesFiles) > 0 {
		merged, ok := b.sourceValuesFiles(hr, src, tree.dir, valuesFiles, ignoreMissing)
		if !ok {
			return nil, false
		}
		raw, err := json.Marshal(merged)
		if err != nil {
			b.hrFinding(hr, field+".valuesFiles", err.Error())
			return nil, false
		}
		sum := sha256.Sum256(raw)
		ch.Values = merged
		digest += "+values:" + hex.EncodeToString(sum[:])
	}
	meta := *ch.Metadata
	if v, err := semver.NewVersion(meta.Version); err == nil {
		if withMeta, err := v.SetMetadata(versionMeta); err == nil {
			meta.Version = withMeta.String()
		}
	}
	ch.Metadata = &meta
	return &loadedChart{chart: &ch, dir: lc.dir, digest: digest + "+version:" + meta.Version}, true
}

// artifactChart is the chart of a chartRef to an ExternalArtifact (which
// helm-controller v1.6.4 reads only with its ExternalArtifact feature gate
// on): the artifact as an ArtifactGenerator makes it, or the folder
// --source maps it to. helm-controller loads the artifact as a chart
// archive (Helm's archive loader), which drops the first folder of every
// path and refuses files at the top: the chart is the artifact's one
// top-level folder. The chart's version is its own: helm-controller adds
// the artifact's digest, which only source-watcher's archive gives.
func (b *builder) artifactChart(ctx context.Context, hr manifest.Object, src SourceRef) (*loadedChart, bool) {
	const field = "spec.chartRef"
	tree, err := b.treeOf(ctx, src)
	if err != nil {
		b.hrFinding(hr, field+".name", err.Error())
		return nil, false
	}
	entries, err := os.ReadDir(tree.dir)
	if err != nil {
		b.hrFinding(hr, field+".name", fmt.Sprintf("%s: %v", src, err))
		return nil, false
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			b.hrFinding(hr, field+".name", fmt.Sprintf("%s holds the file %q at its top: Helm loads the artifact as a chart archive and refuses content outside its base folder", src, e.Name()))
			return nil, false
		}
		dirs = append(dirs, e.Name())
	}
	if len(dirs) != 1 {
		b.hrFinding(hr, field+".name", fmt.Sprintf("%s holds %d top-level folders (%s): the chart must be its one top-level folder, as in a chart archive", src, len(dirs), strings.Join(dirs, ", ")))
		return nil, false
	}
	return b.dirChart(filepath.Join(tree.dir, dirs[0]), src.String()+"/"+dirs[0])
}

// revisionMetadata is the build metadata source-controller v1.9.6 adds
// to the version of a chart built from a GitRepository or Bucket with
// reconcileStrategy Revision (helmchart_controller.go
// buildFromTarballArtifact): the revision's hash (fluxcd/pkg/git
// ExtractHashFromRevision: what follows the last ":", else the last "/"),
// or a Bucket's digest's hex, cut to 12 characters.
func revisionMetadata(kind, rev string) (string, bool) {
	switch kind {
	case "GitRepository":
		if i := strings.LastIndex(rev, ":"); i != -1 {
			rev = rev[i+1:]
		} else if i := strings.LastIndex(rev, "/"); i != -1 {
			rev = rev[i+1:]
		}
	case "Bucket":
		if _, hex, ok := strings.Cut(rev, ":"); ok {
			rev = hex
		}
	}
	if len(rev) < 12 {
		return "", false
	}
	return rev[:12], true
}

// sourceValuesFiles merges valuesFiles, paths of the source at dir, in
// order, as source-controller v1.9.6's local chart builder does
// (mergeFileValues).
func (b *builder) sourceValuesFiles(hr manifest.Object, src SourceRef, dir string, valuesFiles []string, ignoreMissing bool) (map[string]any, bool) {
	const field = "spec.chart.spec"
	merged := map[string]any{}
	for i, f := range valuesFiles {
		p, err := securejoin.SecureJoin(dir, f)
		var data []byte
		if err == nil {
			data, err = os.ReadFile(p)
		}
		if ignoreMissing && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			b.hrFinding(hr, fmt.Sprintf("%s.valuesFiles[%d]", field, i), fmt.Sprintf("values file %q of %s: %v", f, src, err))
			return nil, false
		}
		if err := manifest.CheckYAMLAliases(data); err != nil {
			b.hrFinding(hr, fmt.Sprintf("%s.valuesFiles[%d]", field, i), fmt.Sprintf("values file %q: %v", f, err))
			return nil, false
		}
		values := map[string]any{}
		if err := yaml.Unmarshal(data, &values); err != nil {
			b.hrFinding(hr, fmt.Sprintf("%s.valuesFiles[%d]", field, i), fmt.Sprintf("values file %q: %v", f, err))
			return nil, false
		}
		merged = transform.MergeMaps(merged, values)
	}
	return merged, true
}

// withSourceDigest is the repository's own chart lc as helm-controller
// v1.6.4 renders it from the OCIRepository up pushes it to: its version
// carries the first 12 characters of the artifact's digest as build
// metadata (helmrelease_controller.go, the SetMetadata of the chart's
// source revision), so that a changed chart of the same version upgrades.
// The digest is publish.ChartDigest's, the one up's push gives.
func (b *builder) withSourceDigest(ctx context.Context, hr manifest.Object, field string, lc *loadedChart) (*loadedChart, bool) {
	full := filepath.Join(b.repoRoot, filepath.FromSlash(lc.dir))
	digest := func() (string, error) { return publish.ChartDigest(full) }
	var d string
	var err error
	if b.opts.Renders != nil {
		d, err = b.opts.Renders.digests.do(ctx, lc.digest, digest)
	} else {
		d, err = digest()
	}
	if err != nil {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s: %v", lc.dir, err))
		return nil, false
	}
	_, hex, _ := strings.Cut(d, ":")
	v, err := semver.NewVersion(lc.chart.Metadata.Version)
	if err != nil || len(hex) < 12 {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s: version %q is not semver: helm-controller refuses it", lc.dir, lc.chart.Metadata.Version))
		return nil, false
	}
	withMeta, err := v.SetMetadata(hex[:12])
	if err != nil {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s: %v", lc.dir, err))
		return nil, false
	}
	ch := *lc.chart
	meta := *ch.Metadata
	meta.Version = withMeta.String()
	ch.Metadata = &meta
	return &loadedChart{chart: &ch, dir: lc.dir, digest: lc.digest + "+source:" + d}, true
}

// repositoryChartValues is the chart lc of a HelmRepository as
// source-controller v1.9.6 builds it for a HelmChart with
// spec.valuesFiles (internal/helm/chart/builder_remote.go Build and
// mergeChartValues, metadata.go OverwriteChartDefaultValues): the files,
// paths inside the chart where "values.yaml" is the chart's default
// values, merged in order replace the chart's default values, and the
// chart's version gets the HelmChart's generation as build metadata
// (helmchart_controller.go buildFromHelmRepository, VersionMetadata): 1,
// the generation of the HelmChart helm-controller creates for a new
// release.
func (b *builder) repositoryChartValues(hr manifest.Object, lc *loadedChart, files []string, ignoreMissing bool) (*loadedChart, bool) {
	const field = "spec.chart.spec.valuesFiles"
	merged := map[string]any{}
	for i, f := range files {
		name := filepath.ToSlash(filepath.Clean(f))
		if name == "values.yaml" {
			merged = transform.MergeMaps(merged, lc.chart.Values)
			continue
		}
		var data []byte
		for _, cf := range lc.chart.Files {
			if cf.Name == name {
				data = cf.Data
				break
			}
		}
		if data == nil {
			if ignoreMissing {
				continue
			}
			b.hrFinding(hr, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("chart %s %s has no values file %q: source-controller fails the HelmChart", lc.chart.Name(), lc.chart.Metadata.Version, f))
			return nil, false
		}
		if err := manifest.CheckYAMLAliases(data); err != nil {
			b.hrFinding(hr, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("values file %q of chart %s: %v", f, lc.chart.Name(), err))
			return nil, false
		}
		values := map[string]any{}
		if err := yaml.Unmarshal(data, &values); err != nil {
			b.hrFinding(hr, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("values file %q of chart %s: %v", f, lc.chart.Name(), err))
			return nil, false
		}
		merged = transform.MergeMaps(merged, values)
	}
	v, err := semver.NewVersion(lc.chart.Metadata.Version)
	var withMeta semver.Version
	if err == nil {
		withMeta, err = v.SetMetadata("1")
	}
	if err != nil {
		b.hrFinding(hr, field, fmt.Sprintf("chart %s version %q: source-controller cannot add the values files' build metadata: %v", lc.chart.Name(), lc.chart.Metadata.Version, err))
		return nil, false
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		b.hrFinding(hr, field, err.Error())
		return nil, false
	}
	// A copy: the loaded chart is shared with every release of it.
	ch := *lc.chart
	ch.Values = merged
	meta := *ch.Metadata
	meta.Version = withMeta.String()
	ch.Metadata = &meta
	sum := sha256.Sum256(raw)
	return &loadedChart{chart: &ch, dir: lc.dir, digest: lc.digest + "+values:" + hex.EncodeToString(sum[:])}, true
}
