package chartcache

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	helmregistry "helm.sh/helm/v4/pkg/registry"
)

// chartArchive builds a minimal chart archive in memory.
func chartArchive(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := map[string]string{
		name + "/Chart.yaml":               fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\n", name, version),
		name + "/values.yaml":              "replicas: 1\n",
		name + "/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	}
	for _, n := range []string{name + "/Chart.yaml", name + "/values.yaml", name + "/templates/configmap.yaml"} {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// loopbackOnly is a transport that may only dial 127.0.0.1 and fails the
// test on any other address.
func loopbackOnly(t *testing.T) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if host != "127.0.0.1" {
				t.Errorf("dial to %s: only the test server may be contacted", addr)
				return nil, errors.New("network disabled in tests")
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
}

func TestPullFromHTTPRepositoryOnceThenReuse(t *testing.T) {
	archive := chartArchive(t, "demo", "1.2.3")
	sum := sha256.Sum256(archive)
	var downloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/charts/index.yaml":
			fmt.Fprintf(w, "apiVersion: v1\nentries:\n  demo:\n  - apiVersion: v2\n    name: demo\n    version: 1.2.3\n    digest: %s\n    urls: [demo-1.2.3.tgz]\n  - apiVersion: v2\n    name: demo\n    version: 1.3.0\n    urls: [demo-1.3.0.tgz]\n", hex.EncodeToString(sum[:]))
		case "/charts/demo-1.2.3.tgz":
			downloads.Add(1)
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	c, err := New(dir, WithTransport(loopbackOnly(t)))
	if err != nil {
		t.Fatal(err)
	}
	ref := Ref{Name: "demo", Version: "1.2.3", Repository: srv.URL + "/charts"}
	for i := 0; i < 2; i++ {
		p, err := c.Get(context.Background(), ref)
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, archive) {
			t.Fatalf("cached archive differs from served one (err %v)", err)
		}
	}
	if n := downloads.Load(); n != 1 {
		t.Errorf("downloaded %d times, want once", n)
	}

	// Offline, a cached chart is found and a missing one names itself.
	off, _ := New(dir, WithOffline(true), WithTransport(loopbackOnly(t)))
	if _, err := off.Get(context.Background(), ref); err != nil {
		t.Errorf("offline get of a cached chart: %v", err)
	}
	missing := Ref{Name: "demo", Version: "1.3.0", Repository: srv.URL + "/charts"}
	_, err = off.Get(context.Background(), missing)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("offline get of a missing chart: %v, want *MissingError", err)
	}
	for _, want := range []string{"demo", "1.3.0", srv.URL + "/charts", "without --offline", "demo-1.3.0.tgz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestPullRejectsWrongDigestAndWrongChart(t *testing.T) {
	archive := chartArchive(t, "demo", "1.2.3")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.yaml":
			fmt.Fprint(w, "apiVersion: v1\nentries:\n  demo:\n  - apiVersion: v2\n    name: demo\n    version: 1.2.3\n    digest: 0000\n    urls: [demo-1.2.3.tgz]\n  other:\n  - apiVersion: v2\n    name: other\n    version: 1.0.0\n    urls: [demo-1.2.3.tgz]\n")
		case "/demo-1.2.3.tgz":
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, _ := New(t.TempDir(), WithTransport(loopbackOnly(t)))
	if _, err := c.Get(context.Background(), Ref{Name: "demo", Version: "1.2.3", Repository: srv.URL}); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("wrong digest: err %v", err)
	}
	if _, err := c.Get(context.Background(), Ref{Name: "other", Version: "1.0.0", Repository: srv.URL}); err == nil || !strings.Contains(err.Error(), "archive holds demo 1.2.3") {
		t.Errorf("wrong chart: err %v", err)
	}
	if _, err := c.Get(context.Background(), Ref{Name: "demo", Version: "9.9.9", Repository: srv.URL}); err == nil || !strings.Contains(err.Error(), "no chart demo version 9.9.9") {
		t.Errorf("missing version: err %v", err)
	}
}

func TestPullFromOCIRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	archive := chartArchive(t, "demo", "v0.1.0-chart")

	pusher, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(ioDiscard{}),
		helmregistry.ClientOptHTTPClient(&http.Client{Transport: loopbackOnly(t)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pusher.Push(archive, host+"/charts/demo:v0.1.0-chart"); err != nil {
		t.Fatalf("push: %v", err)
	}

	c, _ := New(t.TempDir(), WithTransport(loopbackOnly(t)))
	p, err := c.Get(context.Background(), Ref{Name: "demo", Version: "v0.1.0-chart", Repository: "oci://" + host + "/charts"})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, archive) {
		t.Error("pulled archive differs from pushed one")
	}
}

func TestDefaultDir(t *testing.T) {
	d, err := DefaultDir(func(k string) (string, bool) {
		if k == EnvDir {
			return "/somewhere", true
		}
		return "", false
	})
	if err != nil || d != "/somewhere" {
		t.Errorf("DefaultDir with %s = %q, %v", EnvDir, d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	d, err = DefaultDir(func(string) (string, bool) { return "", false })
	if err == nil && !strings.HasSuffix(d, "gitops-local/charts") {
		t.Errorf("DefaultDir = %q", d)
	}
}

func TestVersionsListsTheCachedVersionsOfOneChart(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir + "/charts")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Versions("cert-manager"); err != nil || len(got) != 0 {
		t.Errorf("uncreated cache: %v, %v; want nothing", got, err)
	}
	for _, r := range []Ref{{Name: "cert-manager", Version: "v1.19.2"}, {Name: "cert-manager", Version: "v1.20.0-rc.1"}, {Name: "cert", Version: "1.0.0"}} {
		if err := c.Put(r, chartArchive(t, r.Name, r.Version)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Versions("cert-manager")
	if err != nil || strings.Join(got, " ") != "v1.19.2 v1.20.0-rc.1" {
		t.Errorf("Versions(cert-manager) = %v, %v; want v1.19.2 v1.20.0-rc.1", got, err)
	}
	if _, err := c.Versions("../x"); err == nil {
		t.Error("Versions(../x): want an error for a name that is not a chart name")
	}
}
