// Package chartcache keeps the platform charts on disk, one archive per chart
// name and version, so that building an environment renders the same chart
// bytes every time and needs the network at most once per pinned version.
//
// A missing chart is pulled with the Helm v4 SDK, from an HTTP chart
// repository (index.yaml) or an OCI registry, checked, and written
// atomically. In offline mode the cache never touches the network and a
// missing chart is a *MissingError saying which chart it is and how to get
// it.
package chartcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// EnvDir is the environment variable that overrides the cache directory.
const EnvDir = "GITOPS_LOCAL_CHART_CACHE"

// Ref names one chart at one exact version, and where to pull it from.
type Ref struct {
	// Name is the chart's name.
	Name string
	// Version is the exact chart version.
	Version string
	// Repository is an https:// chart repository (with an index.yaml) or an
	// oci:// base under which the chart is <Repository>/<Name>:<Version>.
	Repository string
}

// String formats the reference as "name version (repository)".
func (r Ref) String() string {
	return fmt.Sprintf("%s %s (%s)", r.Name, r.Version, r.Repository)
}

// MissingError reports a chart that is not in the cache while offline.
type MissingError struct {
	Ref Ref
	Dir string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("chart %s version %s from %s is not in the chart cache %s: run once without --offline to pull it, or put the archive there as %s",
		e.Ref.Name, e.Ref.Version, e.Ref.Repository, e.Dir, fileName(e.Ref))
}

// Cache is a directory of chart archives.
type Cache struct {
	dir       string
	offline   bool
	transport *http.Transport
	plainHTTP func(host string) bool
	// createTemp creates the file Put writes an archive to before renaming
	// it into place: os.CreateTemp, or in tests a disk that fills up.
	createTemp func(dir, pattern string) (tempFile, error)
}

// tempFile is what Put needs of the file it writes an archive to.
type tempFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

func osCreateTemp(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

// Option configures a Cache.
type Option func(*Cache)

// WithOffline makes Get fail with *MissingError instead of pulling.
func WithOffline(offline bool) Option { return func(c *Cache) { c.offline = offline } }

// WithTransport sets the HTTP transport used to pull charts (tests use one
// that refuses to dial).
func WithTransport(t *http.Transport) Option { return func(c *Cache) { c.transport = t } }

// WithPlainHTTP sets which OCI registry hosts are spoken to over plain HTTP.
// The default is loopback hosts only (a local registry).
func WithPlainHTTP(fn func(host string) bool) Option { return func(c *Cache) { c.plainHTTP = fn } }

// DefaultDir is the cache directory: $GITOPS_LOCAL_CHART_CACHE when set, else
// <user cache dir>/gitops-local/charts. lookupEnv is os.LookupEnv in
// production.
func DefaultDir(lookupEnv func(string) (string, bool)) (string, error) {
	if d, ok := lookupEnv(EnvDir); ok && d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the chart cache directory: %w (set %s)", err, EnvDir)
	}
	return filepath.Join(base, "gitops-local", "charts"), nil
}

// New returns the cache in dir. The directory is created on the first pull.
func New(dir string, opts ...Option) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("chart cache: empty directory")
	}
	c := &Cache{dir: dir, plainHTTP: isLoopback, createTemp: osCreateTemp}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Offline reports whether the cache never pulls.
func (c *Cache) Offline() bool { return c.offline }

// Path is where the archive of ref is (or would be) kept.
func (c *Cache) Path(ref Ref) string { return filepath.Join(c.dir, fileName(ref)) }

func fileName(ref Ref) string {
	return ref.Name + "-" + ref.Version + ".tgz"
}

// Lookup returns the path of ref's archive, or a *MissingError if it is not
// cached. It never touches the network.
func (c *Cache) Lookup(ref Ref) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	p := c.Path(ref)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &MissingError{Ref: ref, Dir: c.dir}
		}
		return "", fmt.Errorf("chart cache: %w", err)
	}
	return p, nil
}

// Versions lists the versions of the chart name the cache holds, sorted
// as strings. The cache keeps one archive per chart name and version,
// whatever repository it came from. It never touches the network; a cache
// directory not yet created holds nothing.
func (c *Cache) Versions(name string) ([]string, error) {
	if err := checkRef(Ref{Name: name, Version: "0"}); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("chart cache: %w", err)
	}
	var out []string
	for _, e := range entries {
		v, ok := strings.CutPrefix(e.Name(), name+"-")
		if !ok || e.IsDir() {
			continue
		}
		if v, ok = strings.CutSuffix(v, ".tgz"); ok && v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// Get returns the path of ref's archive, pulling it first if it is not
// cached and the cache is not offline.
func (c *Cache) Get(ctx context.Context, ref Ref) (string, error) {
	p, err := c.Lookup(ref)
	var missing *MissingError
	if err == nil || !errors.As(err, &missing) || c.offline {
		return p, err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := c.pull(ref)
	if err != nil {
		return "", fmt.Errorf("pull chart %s: %w", ref, err)
	}
	if err := c.Put(ref, data); err != nil {
		return "", err
	}
	return c.Path(ref), nil
}

// Put checks that data is the archive of ref (a loadable chart with ref's
// name and version) and writes it to the cache atomically: a write that
// fails (a full disk) leaves no archive, and no partial file, behind.
func (c *Cache) Put(ref Ref, data []byte) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("chart %s: not a chart archive: %w", ref, err)
	}
	if ch.Name() != ref.Name || ch.Metadata.Version != ref.Version {
		return fmt.Errorf("chart %s: archive holds %s %s", ref, ch.Name(), ch.Metadata.Version)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	tmp, err := c.createTemp(c.dir, ".pull-*")
	if err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("chart cache: write %s: %w", tmp.Name(), err)
	}
	// Flush before the rename: a full disk can surface only here, and the
	// archive must be whole on disk before its name says it is cached.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("chart cache: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("chart cache: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.Path(ref)); err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	return nil
}

func checkRef(ref Ref) error {
	for _, s := range []string{ref.Name, ref.Version} {
		if s == "" || strings.ContainsAny(s, `/\`) || s == "." || s == ".." {
			return fmt.Errorf("chart cache: invalid chart name or version in %s", ref)
		}
	}
	return nil
}

func (c *Cache) pull(ref Ref) ([]byte, error) {
	if registry.IsOCI(ref.Repository) {
		return c.pullOCI(ref)
	}
	return c.pullHTTP(ref)
}

// pullHTTP reads the repository's index.yaml, finds the exact version and
// downloads its first URL, checking the digest the index gives.
func (c *Cache) pullHTTP(ref Ref) ([]byte, error) {
	opts := []getter.Option{getter.WithUserAgent("gitops-local")}
	if c.transport != nil {
		opts = append(opts, getter.WithTransport(c.transport))
	}
	g, err := getter.NewHTTPGetter(opts...)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(ref.Repository, "/")
	idxURL := base + "/index.yaml"
	buf, err := g.Get(idxURL)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", idxURL, err)
	}
	tmp, err := os.CreateTemp("", "gitops-local-index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(buf.Bytes())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, werr
	}
	idx, err := repo.LoadIndexFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", idxURL, err)
	}
	cv, err := idx.Get(ref.Name, ref.Version)
	if err != nil || cv.Version != ref.Version {
		return nil, fmt.Errorf("%s has no chart %s version %s", idxURL, ref.Name, ref.Version)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%s lists no URL for %s %s", idxURL, ref.Name, ref.Version)
	}
	chartURL, err := repo.ResolveReferenceURL(base+"/", cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart URL %q in %s: %w", cv.URLs[0], idxURL, err)
	}
	data, err := g.Get(chartURL)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", chartURL, err)
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(data.Bytes())
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, cv.Digest) {
			return nil, fmt.Errorf("download %s: digest sha256:%s, index says %s", chartURL, got, cv.Digest)
		}
	}
	return data.Bytes(), nil
}

// pullOCI pulls <repository>/<name>:<version> with Helm's registry client.
func (c *Cache) pullOCI(ref Ref) ([]byte, error) {
	base := strings.TrimSuffix(strings.TrimPrefix(ref.Repository, "oci://"), "/")
	u, err := url.Parse("oci://" + base)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", ref.Repository, err)
	}
	httpClient := &http.Client{}
	if c.transport != nil {
		httpClient.Transport = c.transport
	}
	opts := []registry.ClientOption{registry.ClientOptHTTPClient(httpClient), registry.ClientOptWriter(ioDiscard{})}
	if c.plainHTTP != nil && c.plainHTTP(u.Host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	res, err := client.Pull(base + "/" + ref.Name + ":" + ref.Version)
	if err != nil {
		return nil, err
	}
	if res.Chart == nil || len(res.Chart.Data) == 0 {
		return nil, errors.New("the artifact has no chart layer")
	}
	return res.Chart.Data, nil
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// isLoopback reports whether host (with or without a port) is a loopback
// address or localhost.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
