package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// failingTransport fails the test on any request through it.
type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.t.Errorf("HTTP request through the default transport: %s %s", req.Method, req.URL.Redacted())
	return nil, errors.New("network disabled in tests")
}

// noNetwork makes every request through http.DefaultTransport and every
// DNS lookup fail the test, and puts a git first on PATH that records any
// run; it returns the file where git would have written its arguments.
func noNetwork(t *testing.T) (gitLog string) {
	t.Helper()
	oldTransport, oldResolver := http.DefaultTransport, net.DefaultResolver
	http.DefaultTransport = failingTransport{t}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, address string) (net.Conn, error) {
		t.Errorf("DNS lookup: %s %s", network, address)
		return nil, errors.New("network disabled in tests")
	}}
	t.Cleanup(func() { http.DefaultTransport, net.DefaultResolver = oldTransport, oldResolver })

	bin := t.TempDir()
	gitLog = filepath.Join(t.TempDir(), "git-ran")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\nexit 1\n", gitLog)
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return gitLog
}

// hostileRepo is the repository with every path to the network an
// attacker could try from it: remote kustomize bases and files, a git::
// URL, values schemas referring to http, https and file URLs, a
// HelmRepository chart and an OCI chart missing from the chart cache.
func hostileRepo(t *testing.T, schemaServer string) string {
	t.Helper()
	root := copyTree(t)
	testutil.Edit(t, root, "overlays/local/kustomization.yaml", "  - ghillie.yaml\n", "  - ghillie.yaml\n  - hostile.yaml\n")
	testutil.Edit(t, root, "charts/ghillie/values.schema.json", `"properties": {`,
		`"properties": {"remote": {"$ref": "https://schema.example.invalid/remote.json"},`)
	files := map[string]string{
		"overlays/local/hostile.yaml": `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: remote
  namespace: flux-system
spec:
  interval: 10m
  path: ./gitops/remote
  prune: true
  sourceRef:
    kind: OCIRepository
    name: flux-system
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: remote-helm
  namespace: flux-system
spec:
  interval: 10m
  url: https://helm.example.invalid/charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: remote-helm
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: nothere
      version: 1.0.0
      sourceRef:
        kind: HelmRepository
        name: remote-helm
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: remote-oci
  namespace: flux-system
spec:
  interval: 10m
  url: oci://oci.example.invalid/charts/nothere
  ref:
    tag: 1.0.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: remote-oci
  namespace: flux-system
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: remote-oci
` + localChartRelease("evil-file") + localChartRelease("evil-http"),
		"gitops/remote/kustomization.yaml": `
resources:
  - https://github.com/fluxcd/flux2//manifests/install?ref=v2.0.0
  - github.com/org/repo//path
  - git::https://git.example.invalid/repo.git//deploy
  - file:///etc
  - https://raw.example.invalid/deploy.yaml
`,
		"charts/evil-file/Chart.yaml":         "apiVersion: v2\nname: evil-file\nversion: 0.1.0\n",
		"charts/evil-file/values.schema.json": `{"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}}`,
		"charts/evil-http/Chart.yaml":         "apiVersion: v2\nname: evil-http\nversion: 0.1.0\n",
		"charts/evil-http/values.schema.json": `{"type": "object", "properties": {"a": {"$ref": "` + schemaServer + `/s.json"}}}`,
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// localChartRelease is an OCIRepository serving the repository's chart
// name, and a HelmRelease of it.
func localChartRelease(name string) string {
	return strings.ReplaceAll(`---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: NAME
  namespace: flux-system
spec:
  interval: 10m
  url: oci://charts.example.invalid/charts/NAME
  ref:
    tag: 0.1.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: NAME
  namespace: flux-system
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: NAME
  values:
    a: {}
`, "NAME", name)
}

// TestOfflineCommandsNeverTouchTheNetwork runs validate, build --offline
// and diff over a repository tempting every network path: nothing goes
// through the default transport or the resolver, the loopback schema
// server gets no request, git never runs, kustomize clones nothing into
// TMPDIR, and every temptation is a finding.
func TestOfflineCommandsNeverTouchTheNetwork(t *testing.T) {
	env := withChartCache(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	t.Cleanup(srv.Close)
	root := hostileRepo(t, srv.URL)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gitLog := noNetwork(t)

	wantFindings := []string{
		`gitops/remote/kustomization.yaml:2: [local] Kustomization/flux-system/remote: resources[0]: remote base "https://github.com/fluxcd/flux2//manifests/install?ref=v2.0.0" is not fetched offline: vendor it into the repository`,
		`resources[1]: remote base "github.com/org/repo//path"`,
		`resources[2]: remote base "git::https://git.example.invalid/repo.git//deploy"`,
		`resources[3]: remote base "file:///etc"`,
		`resources[4]: remote file "https://raw.example.invalid/deploy.yaml"`,
		`"https://schema.example.invalid/remote.json" is a https URL; only the files the chart ships are read`,
		`"file:///etc/passwd" is not a file of the chart`,
		`"` + srv.URL + `/s.json" is a http URL`,
		`chart nothere version 1.0.0 from https://helm.example.invalid/charts is not in the chart cache`,
		`chart nothere version 1.0.0 from oci://oci.example.invalid/charts is not in the chart cache`,
	}
	for _, args := range [][]string{
		{"validate", "--repo", root, "local"},
		{"build", "--offline", "--repo", root, "local"},
		{"diff", "--repo", root, "local", "staging"},
	} {
		r := run(t, env, args...)
		if r.code != ExitFindings {
			t.Errorf("%v: exit %d, want %d\nstderr:\n%s", args, r.code, ExitFindings, r.stderr)
		}
		if args[0] == "diff" {
			if !strings.Contains(r.stderr, "local has") || !strings.Contains(r.stderr, "build finding") {
				t.Errorf("diff does not say local has build findings:\n%s", r.stderr)
			}
			continue
		}
		out := r.stdout + r.stderr
		for _, w := range wantFindings {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no finding %q in:\n%s", args[0], w, out)
			}
		}
	}
	if n := requests.Load(); n > 0 {
		t.Errorf("the schema server got %d requests", n)
	}
	if data, err := os.ReadFile(gitLog); err == nil {
		t.Errorf("git ran: %s", data)
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "kustomize-*")); len(m) > 0 {
		t.Errorf("kustomize cloned into %v", m)
	}
}

// TestBuildRefusesChartLinkOutOfTheRepository: a chart file that is a
// symbolic link to a file outside the repository is a finding naming the
// chart's file, and its content is printed nowhere.
func TestBuildRefusesChartLinkOutOfTheRepository(t *testing.T) {
	env := withChartCache(t)
	root := copyTree(t)
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte("root:x:0:0:secret-content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "charts/ghillie/files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "charts/ghillie/files/pw")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "charts/ghillie/templates/pw.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pw\ndata:\n  pw: {{ .Files.Get \"files/pw\" | quote }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"build", "--offline", "--repo", root, "local"},
		{"validate", "--repo", root, "local"},
	} {
		r := run(t, env, args...)
		if r.code != ExitFindings {
			t.Errorf("%v: exit %d, want %d\nstderr:\n%s", args, r.code, ExitFindings, r.stderr)
		}
		out := r.stdout + r.stderr
		if !strings.Contains(out, "charts/ghillie/files/pw: [local] chart charts/ghillie: symbolic link leaves the chart") {
			t.Errorf("%v: no finding naming charts/ghillie/files/pw:\n%s", args, r.stderr)
		}
		if strings.Contains(out, "secret-content") {
			t.Errorf("%v printed the linked file's content", args)
		}
	}
}
