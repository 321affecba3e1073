// Package testenv starts, for one test, a real Kubernetes control plane and
// the real Flux controllers as processes on loopback: etcd, kube-apiserver
// (client certificates, RBAC), kube-controller-manager, kube-scheduler, kwok
// faking one Ready Node and its pods (a pod's log is the file a kwok
// ClusterLogs or Logs object names), the Flux CRDs, source-, kustomize- and
// helm-controller, and an OCI registry standing in for the cluster's.
//
// The binaries are built once from the Go module proxy by
// `go run ./hack/testcluster build`; Start skips the test when they are
// missing (or fails it when GITOPS_LOCAL_REQUIRE_TESTENV=1, as in CI), and
// skips it in -short mode. Everything started is stopped and removed when the
// test ends; if the test binary dies, the kernel kills the processes.
package testenv

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/hack/controlplane"
)

// RequireEnv, set to 1, makes Start fail instead of skip when the binaries
// are missing, so that CI cannot pass by skipping.
const RequireEnv = "GITOPS_LOCAL_REQUIRE_TESTENV"

// Env is a running control plane: Config and Kubeconfig are admin
// credentials, RegistryPush and RegistryPull the registry as the tool and as
// the cluster reach it, Dir its state and logs (logs/NAME.log).
type Env = controlplane.Env

// Option changes what Start starts.
type Option func(*controlplane.Options)

// WithoutFlux starts only the Kubernetes control plane and kwok.
func WithoutFlux() Option { return func(o *controlplane.Options) { o.WithoutFlux = true } }

// WithRequeueDependency makes kustomize- and helm-controller look again at
// an object waiting on its dependsOn after d instead of their 30 s default.
func WithRequeueDependency(d time.Duration) Option {
	return func(o *controlplane.Options) { o.RequeueDependency = d }
}

// WithToolsDir takes the binaries from dir instead of GITOPS_LOCAL_TOOLS_DIR
// or the user cache directory.
func WithToolsDir(dir string) Option { return func(o *controlplane.Options) { o.ToolsDir = dir } }

// Start starts the control plane for t and stops it when t ends.
func Start(ctx context.Context, t testing.TB, opts ...Option) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: skipped in -short mode: starts a real control plane and the Flux controllers (about 15 s)")
	}
	o := controlplane.Options{Log: logWriter{t}}
	for _, opt := range opts {
		opt(&o)
	}
	env, err := controlplane.Start(ctx, o)
	var missing *controlplane.MissingError
	if errors.As(err, &missing) && os.Getenv(RequireEnv) != "1" {
		t.Skipf("testenv: %v", err)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range env.Processes() {
				t.Logf("testenv: last 20 lines of %s:\n%s", p.Name, p.Tail(20))
			}
		}
		if err := env.Stop(); err != nil {
			t.Errorf("testenv: stopping: %v", err)
		}
	})
	return env
}

// Scheme knows the core Kubernetes types and the Flux APIs the tool uses.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Client is a controller-runtime client for env with Scheme's types.
func Client(t testing.TB, env *Env) client.Client {
	t.Helper()
	s, err := Scheme()
	if err != nil {
		t.Fatalf("testenv: scheme: %v", err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatalf("testenv: client: %v", err)
	}
	return c
}

// logWriter sends start-up progress to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log("testenv: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
