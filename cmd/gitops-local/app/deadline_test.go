package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// silentServer listens on loopback, accepts every connection and never
// answers; it returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// silentKubeconfig writes a kubeconfig whose API server is addr.
func silentKubeconfig(t *testing.T, addr string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: silent
  cluster:
    server: http://%s
users:
- name: silent
  user:
    token: not-a-secret
contexts:
- name: silent
  context:
    cluster: silent
    user: silent
current-context: silent
`, addr)
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runBounded runs the command line, failing the test if it has not
// returned long after the deadline it was given.
func runBounded(t *testing.T, env map[string]string, bound time.Duration, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		code := Run(context.Background(), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args, lookup)
		done <- result{code: code, stdout: out.String(), stderr: errOut.String()}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(bound):
		t.Fatalf("%s still running %s after it started", strings.Join(args, " "), bound)
		return result{}
	}
}

func TestUpStopsAtTimeoutAgainstSilentServer(t *testing.T) {
	api := silentServer(t)
	registry := silentServer(t)
	// Flux is installed before any chart is read: no chart is needed.
	env := map[string]string{"GITOPS_LOCAL_CHART_CACHE": t.TempDir()}
	r := runBounded(t, env, 30*time.Second, "up", "--kubeconfig", silentKubeconfig(t, api), "--registry", registry, "--repo", repoRoot, "--timeout", "2s", "--offline")
	if r.code != ExitFailure {
		t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, ExitFailure, r.stderr)
	}
	if !strings.Contains(r.stderr, api) || !strings.Contains(r.stderr, "2s") {
		t.Errorf("the error should name the API server %s and the 2s deadline:\n%s", api, r.stderr)
	}
}

// sync validates a small repository, then meets the silent cluster and
// registry.
func TestSyncStopsAtTimeoutAgainstSilentServer(t *testing.T) {
	api := silentServer(t)
	registry := silentServer(t)
	env := withChartCache(t)
	root := t.TempDir()
	for name, body := range map[string]string{
		"overlays/local/cluster-vars.env":   "GREETING=hello\n",
		"overlays/local/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n",
		"overlays/local/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: default\ndata:\n  msg: hello\n",
		"charts/ghillie/Chart.yaml":         "apiVersion: v2\nname: ghillie\nversion: 0.1.0\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runBounded(t, env, 30*time.Second, "sync", "--kubeconfig", silentKubeconfig(t, api), "--registry", registry, "--repo", root, "--timeout", "2s", "--offline")
	if r.code != ExitFailure {
		t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, ExitFailure, r.stderr)
	}
	if !strings.Contains(r.stderr, "did not finish within --timeout 2s") || !strings.Contains(r.stderr, registry) {
		t.Errorf("the error should name the 2s deadline and the registry %s:\n%s", registry, r.stderr)
	}
}

// Ctrl-C ends status against a server that never answers, API discovery
// included.
func TestStatusInterruptedAgainstSilentServer(t *testing.T) {
	kc := silentKubeconfig(t, silentServer(t))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- Run(ctx, Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &errOut}, []string{"status", "--kubeconfig", kc}, func(string) (string, bool) { return "", false })
	}()
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("exit %d, want %d\nstderr:\n%s", code, ExitInterrupted, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("status did not stop when interrupted")
	}
}
