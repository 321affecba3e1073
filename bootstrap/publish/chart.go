package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/leynos/gitops-local/bootstrap/render"
)

// epoch is the time written into chart archives and OCI manifests, so that
// the same chart content always gives the same bytes and digests.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Chart pushes the chart at path (a directory or a .tgz) as a Helm OCI chart
// to oci://<registry>/<repository>/<name>:<version>, unless the registry
// already holds the same content under that tag.
func (p *Publisher) Chart(ctx context.Context, path, repository string) (*Artifact, error) {
	ch, data, archive, err := packageChart(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	content := "sha256:" + hex.EncodeToString(sum[:])
	ref := fmt.Sprintf("%s/%s/%s:%s", p.registry, repository, ch.Name(), ch.Metadata.Version)
	a := &Artifact{URL: "oci://" + ref, Revision: ch.Metadata.Version, ContentDigest: content}

	if layer, digest, err := p.chartLayer(ctx, ref); err != nil {
		return nil, err
	} else if layer == content {
		a.Digest, a.Skipped = digest, true
		return a, nil
	}

	opts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
	if p.insecure {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("pushing chart %s: %w", archive, err)
	}
	res, err := client.Push(data, ref, pushOptions()...)
	if err != nil {
		return nil, fmt.Errorf("pushing chart %s to %s: %w", archive, a.URL, explain(p.registry, err))
	}
	a.Digest = res.Manifest.Digest
	return a, nil
}

// chartLayer returns the digest of the chart layer and of the manifest at
// ref, or nothing when ref does not exist.
func (p *Publisher) chartLayer(ctx context.Context, ref string) (string, string, error) {
	raw, err := p.manifest(ctx, ref)
	if err != nil || raw == nil {
		return "", "", err
	}
	var m struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", ref, err)
	}
	sum := sha256.Sum256(raw)
	for _, l := range m.Layers {
		if l.MediaType == registry.ChartLayerMediaType {
			return l.Digest, "sha256:" + hex.EncodeToString(sum[:]), nil
		}
	}
	return "", "", nil
}

// packageChart packages the chart at path as Chart pushes it: loaded as
// source-controller loads it (nothing from outside the chart), with fixed
// times, so that the archive is a function of the chart's content. It
// returns the chart, the archive's bytes and its file name.
func packageChart(path string) (*chart.Chart, []byte, string, error) {
	ch, err := render.LoadChart(path)
	if err != nil {
		return nil, nil, "", err
	}
	ch.ModTime, ch.SchemaModTime = epoch, epoch
	for _, f := range ch.Raw {
		f.ModTime = epoch
	}
	for _, f := range ch.Templates {
		f.ModTime = epoch
	}
	for _, f := range ch.Files {
		f.ModTime = epoch
	}
	dir, err := os.MkdirTemp("", "gitops-local-chart-")
	if err != nil {
		return nil, nil, "", fmt.Errorf("packaging chart %s: %w", ch.Name(), err)
	}
	defer os.RemoveAll(dir)
	archive, err := chartutil.Save(ch, dir)
	if err != nil {
		return nil, nil, "", fmt.Errorf("packaging chart %s: %w", ch.Name(), err)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		return nil, nil, "", fmt.Errorf("packaging chart %s: %w", ch.Name(), err)
	}
	return ch, data, filepath.Base(archive), nil
}

// pushOptions are the options every chart push uses: the fixed creation
// time, so that the manifest too is a function of the chart's content.
func pushOptions() []registry.PushOption {
	return []registry.PushOption{registry.PushOptCreationTime(epoch.Format(time.RFC3339)), registry.PushOptStrictMode(true)}
}

// ChartDigest is the manifest digest Chart gives the chart at path in any
// registry, computed without a network: the chart is pushed with the same
// Helm client and options to a registry held in memory, reached through a
// transport that calls its handler directly (no socket). helm-controller
// adds this digest to the version of a chart it reads from an
// OCIRepository, so the offline build needs it to render the chart as the
// cluster does.
func ChartDigest(path string) (string, error) {
	ch, data, archive, err := packageChart(path)
	if err != nil {
		return "", err
	}
	client, err := registry.NewClient(registry.ClientOptWriter(io.Discard), registry.ClientOptPlainHTTP(),
		registry.ClientOptHTTPClient(&http.Client{Transport: handlerTransport{ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}}))
	if err != nil {
		return "", fmt.Errorf("digest of chart %s: %w", archive, err)
	}
	ref := fmt.Sprintf("in-memory.invalid/charts/%s:%s", ch.Name(), ch.Metadata.Version)
	res, err := client.Push(data, ref, pushOptions()...)
	if err != nil {
		return "", fmt.Errorf("digest of chart %s: %w", archive, err)
	}
	return res.Manifest.Digest, nil
}

// handlerTransport serves HTTP requests with a handler in this process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r // relative Locations resolve against the request
	return res, nil
}
