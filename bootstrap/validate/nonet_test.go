package validate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
)

// networkAttempts counts HTTP requests made through the default transport
// and DNS lookups; TestMain fails the run when any was made.
var networkAttempts atomic.Int64

// noNetwork is an http.RoundTripper that refuses every request.
type noNetwork struct{}

func (noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	networkAttempts.Add(1)
	fmt.Fprintf(os.Stderr, "network access: %s %s\n", req.Method, req.URL.Redacted())
	return nil, fmt.Errorf("test attempted network access: %s %s", req.Method, req.URL.Redacted())
}

// guardNetwork makes every request through the default transport, every
// DNS lookup (Helm's schema loader has its own transport, but resolves
// names through net.DefaultResolver) and every run of git (kustomize clones
// remote bases with it) count as a network attempt. The returned function
// reports whether git ran, and removes its stand-in.
func guardNetwork() (gitRan func() bool) {
	http.DefaultTransport = noNetwork{}
	http.DefaultClient = &http.Client{Transport: noNetwork{}}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, address string) (net.Conn, error) {
		networkAttempts.Add(1)
		fmt.Fprintf(os.Stderr, "DNS lookup: %s %s\n", network, address)
		return nil, errors.New("test attempted a DNS lookup")
	}}
	bin, err := os.MkdirTemp("", "gitops-local-nogit-*")
	if err != nil {
		panic(err)
	}
	marker := filepath.Join(bin, "ran")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\nexit 1\n", marker)
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		panic(err)
	}
	os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() bool {
		defer os.RemoveAll(bin)
		_, err := os.Stat(marker)
		return err == nil
	}
}
