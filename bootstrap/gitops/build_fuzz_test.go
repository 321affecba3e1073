package gitops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/chartcache"
)

// countingTransport counts the requests sent through it and fails them.
type countingTransport struct{ n *atomic.Int64 }

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, fmt.Errorf("network disabled in tests: %s %s", req.Method, req.URL.Redacted())
}

// within runs fn and fails the test when fn has not returned within d: a
// fuzz target's bound on hostile input. fn cannot be stopped: it goes on
// in the background, so it must not use t.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// fuzzBuildTimeout is the context each fuzzed build gets, and
// fuzzBuildGrace how long after it the build may take to return.
const (
	fuzzBuildTimeout = 3 * time.Second
	fuzzBuildGrace   = 5 * time.Second
)

// FuzzBuildOverlay: one file of an environment is any bytes, either a
// manifest its kustomization.yaml lists or the kustomization.yaml itself.
// The offline build of a tiny repository around it (no chart to render,
// an empty chart cache) never panics, returns within its context, gives
// an error or an environment whose every finding names a file, sends no
// request, runs no git and leaves no working copy in the temporary
// directory.
func FuzzBuildOverlay(f *testing.F) {
	var requests, lookups atomic.Int64
	oldTransport, oldResolver := http.DefaultTransport, net.DefaultResolver
	http.DefaultTransport = countingTransport{&requests}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, address string) (net.Conn, error) {
		lookups.Add(1)
		return nil, errors.New("network disabled in tests")
	}}
	f.Cleanup(func() { http.DefaultTransport, net.DefaultResolver = oldTransport, oldResolver })
	// A git first on PATH records any run (kustomize clones remote bases
	// with git).
	bin := f.TempDir()
	gitLog := filepath.Join(f.TempDir(), "git-ran")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\nexit 1\n", gitLog)
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	f.Add(false, []byte(syntheticRepo["overlays/test/ks.yaml"]))
	f.Add(true, []byte(syntheticRepo["overlays/test/kustomization.yaml"]))

	f.Fuzz(func(t *testing.T, isKustomization bool, data []byte) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		root := writeRepo(t, map[string]string{
			"overlays/test/cluster-vars.env":   "GREETING=hello\nREGISTRY=reg.test:5000\n",
			"overlays/test/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [objects.yaml]\n",
			"overlays/test/objects.yaml":       "",
			"gitops/apps/kustomization.yaml":   "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [greeting.yaml]\n",
			"gitops/apps/greeting.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: greeting, namespace: team}\ndata: {greeting: \"${GREETING}\"}\n",
		})
		name := "overlays/test/objects.yaml"
		if isKustomization {
			name = "overlays/test/kustomization.yaml"
		}
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		requests.Store(0)
		lookups.Store(0)

		cache, err := chartcache.New(t.TempDir(), chartcache.WithOffline(true), chartcache.WithTransport(&http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				requests.Add(1)
				return nil, errors.New("network disabled in tests")
			}}))
		if err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), fuzzBuildTimeout)
		defer cancel()
		var e *Environment
		within(t, fuzzBuildTimeout+fuzzBuildGrace, "the build, whose context ends after "+fuzzBuildTimeout.String(), func() {
			e, err = Build(ctx, root, "test", Options{Offline: true, ChartCache: cache})
		})
		t.Logf("err %v env %v", err, e != nil)
		if e != nil {
			t.Log(findingsText(e.Findings))
		}
		switch {
		case err != nil:
			if err.Error() == "" {
				t.Error("an error without a message")
			}
		case e == nil:
			t.Error("no error and no environment")
		default:
			for _, fd := range e.Findings {
				if fd.File == "" {
					t.Errorf("a finding names no file: %s", fd)
				}
			}
		}
		left, rerr := os.ReadDir(tmp)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, d := range left {
			t.Errorf("left behind in the temporary directory: %s", d.Name())
		}
		if n := requests.Load(); n > 0 {
			t.Errorf("%d HTTP requests through the default transport or connections from the chart cache", n)
		}
		if n := lookups.Load(); n > 0 {
			t.Errorf("%d DNS lookups", n)
		}
		if ran, _ := os.ReadFile(gitLog); len(ran) > 0 {
			os.Remove(gitLog)
			t.Errorf("git ran: %s", strings.TrimSpace(string(ran)))
		}
	})
}
