package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// writeIndex copies the chart archives into dir and writes the index.yaml
// Helm's own repository code generates for them (helm repo index), with
// chart URLs under baseURL.
func writeIndex(dir string, archives []string, baseURL string) (*repo.IndexFile, error) {
	for _, a := range archives {
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(a)), data, 0o644); err != nil {
			return nil, err
		}
	}
	idx, err := repo.IndexDirectory(dir, baseURL)
	if err != nil {
		return nil, fmt.Errorf("indexing %s: %w", dir, err)
	}
	if len(idx.Entries) == 0 {
		return nil, fmt.Errorf("indexing %s: no chart archive", dir)
	}
	idx.SortEntries()
	// A fixed date keeps the index the same from run to run.
	idx.Generated = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, vs := range idx.Entries {
		for _, v := range vs {
			v.Created = idx.Generated
		}
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		return nil, err
	}
	return idx, nil
}

// server is an HTTP server on a loopback port.
type server struct {
	URL string
	srv *http.Server
}

// serve serves h on 127.0.0.1 on a free port until Close.
func serve(h http.Handler) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + l.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "benchflate: server:", err)
		}
	}()
	return s, nil
}

// Host is the server's host:port.
func (s *server) Host() string { return s.URL[len("http://"):] }

// Close stops the server.
func (s *server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// serveHelmRepo serves dir (holding index.yaml and the archives) as an
// HTTP Helm repository.
func serveHelmRepo(dir string) (*server, error) { return serve(http.FileServer(http.Dir(dir))) }

// registry is an in-memory OCI registry (go-containerregistry's, the one
// the project's tests use) served on two loopback ports with one store:
// plain HTTP for pushing (the project's publisher pushes plain HTTP to an
// insecure registry), and HTTPS with a self-signed certificate for flate,
// whose OCIRepository spec.insecure skips certificate checks but still
// speaks HTTPS.
type registry struct {
	plain *server
	tls   *httptest.Server
}

func serveRegistry() (*registry, error) {
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	plain, err := serve(h)
	if err != nil {
		return nil, err
	}
	return &registry{plain: plain, tls: httptest.NewTLSServer(h)}, nil
}

// PushHost and PullHost are the host:port to push to and to pull from.
func (r *registry) PushHost() string { return r.plain.Host() }
func (r *registry) PullHost() string { return r.tls.Listener.Addr().String() }

func (r *registry) Close() error {
	r.tls.Close()
	return r.plain.Close()
}
