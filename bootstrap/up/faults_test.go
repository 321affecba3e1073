package up_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/publish"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/up"
	watchloop "github.com/leynos/gitops-local/bootstrap/watch"
)

// TestUpConvergesAfterFaults breaks the real control plane, or the
// repository, in the ways a developer's machine breaks, one after the
// other on one control plane: each case restores what it broke, and
// running up, sync or the watch again must converge with nothing lost.
func TestUpConvergesAfterFaults(t *testing.T) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	root := copyRepo(t)
	s := newStack(ctx, t, root)
	c := testenv.Client(t, s.env)
	defer func() { t.Logf("faults: %s in all", time.Since(begin).Round(time.Second)) }()

	// Every case needs the one before it to have converged.
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"source-controller killed during up", func(t *testing.T) {
			r, err := up.New(withTimeout(s.opts, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			steps := r.Steps()
			i := stepIndex(t, steps, "Point Flux")
			configure := steps[i].Run
			steps[i].Run = func(ctx context.Context) error {
				if err := configure(ctx); err != nil {
					return err
				}
				return s.env.StopComponent("source-controller")
			}
			_, err = progress.New(&bytes.Buffer{}, false).Run(ctx, steps)
			if err == nil {
				t.Fatal("up succeeded with source-controller killed")
			}
			for _, want := range []string{"timed out after 10s", "not ready", "Kustomization/flux-system/flux-system"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("up with source-controller killed failed with\n%v\nwhich does not say %q", err, want)
				}
			}
			if err := s.env.StartComponent(ctx, "source-controller"); err != nil {
				t.Fatal(err)
			}
			sum, out, err := s.up(ctx, t)
			if err != nil {
				t.Fatalf("up after source-controller came back: %v\n%s", err, out)
			}
			assertConverged(ctx, t, c, sum, "DEBUG")
		}},
		{"registry restarted during a push", func(t *testing.T) {
			before := artifact(t, s.env.RegistryPush)
			var once sync.Once
			s.env.OnRegistryRequest(func(r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.Path, "/"+up.ArtifactRepo+"/blobs/uploads") {
					once.Do(func() {
						if err := s.env.StopRegistry(); err != nil {
							t.Error(err)
						}
					})
				}
			})
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "GHILLIE_LOG_LEVEL: DEBUG", "GHILLIE_LOG_LEVEL: WARNING")
			sum, out, err := s.sync(ctx, t)
			s.env.OnRegistryRequest(nil)
			if err == nil {
				t.Fatalf("sync succeeded with the registry stopped during the push:\n%s", out)
			}
			want := "pushing oci://" + s.env.RegistryPush + "/" + up.ArtifactRepo + ":" + up.ArtifactTag
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "registry "+s.env.RegistryPush+" not reachable") {
				t.Errorf("the failed push says\n%v\nwant %q and that the registry is not reachable", err, want)
			}
			if sum.Artifact != nil {
				t.Errorf("a failed push is reported as pushed: %+v", sum.Artifact)
			}
			if err := s.env.StartRegistry(); err != nil {
				t.Fatal(err)
			}
			// The tag still points at the last complete artifact.
			if after := artifact(t, s.env.RegistryPush); after != before {
				t.Errorf("an interrupted push moved the tag from %s to %s", before, after)
			}
			sum, out, err = s.sync(ctx, t)
			if err != nil {
				t.Fatalf("sync after the registry came back: %v\n%s", err, out)
			}
			if got := artifact(t, s.env.RegistryPush); got != sum.Artifact.Digest {
				t.Errorf("the tag points at %s, sync pushed %s", got, sum.Artifact.Digest)
			}
			assertConverged(ctx, t, c, sum, "WARNING")
		}},
		{"API server restarted during watch", func(t *testing.T) {
			opts := s.opts
			opts.Validated = up.NewValidated()
			opts.Log = progress.Discard
			rounds := make(chan error, 4)
			wctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = watchloop.Run(wctx, watchloop.Options{
					Root:     root,
					Debounce: 100 * time.Millisecond,
					Round: func(ctx context.Context, _ []string) error {
						_, err := up.Sync(ctx, progress.New(io.Discard, false), opts)
						return err
					},
					OnError: func(err error) { rounds <- err },
				})
			}()
			defer func() { stop(); wg.Wait() }()
			// The watch reports a round's error and goes on; a round
			// that succeeds reports nothing, so the test also reads the
			// cluster.
			time.Sleep(500 * time.Millisecond) // the watch is watching
			if err := s.env.StopComponent("kube-apiserver"); err != nil {
				t.Fatal(err)
			}
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "GHILLIE_LOG_LEVEL: WARNING", "GHILLIE_LOG_LEVEL: ERROR")
			select {
			case err := <-rounds:
				if !strings.Contains(err.Error(), "connection refused") {
					t.Errorf("the round with the API server down failed with %v, want connection refused", err)
				}
				t.Logf("round with the API server down: %v", firstLine(err))
			case <-time.After(time.Minute):
				t.Fatal("the watch reported nothing within a minute of a change with the API server down")
			}
			if err := s.env.StartComponent(ctx, "kube-apiserver"); err != nil {
				t.Fatal(err)
			}
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "GHILLIE_LOG_LEVEL: ERROR", "GHILLIE_LOG_LEVEL: CRITICAL")
			deadline := time.After(2 * time.Minute)
			for configValue(ctx, c) != "CRITICAL" {
				select {
				case err := <-rounds:
					t.Fatalf("the round after the API server came back failed: %v", err)
				case <-deadline:
					t.Fatalf("the change saved after the API server came back was not applied within 2 minutes: GHILLIE_LOG_LEVEL is %q", configValue(ctx, c))
				case <-time.After(200 * time.Millisecond):
				}
			}
			stop()
			wg.Wait()
			sum, out, err := s.sync(ctx, t)
			if err != nil {
				t.Fatalf("sync after the watch: %v\n%s", err, out)
			}
			if !sum.Artifact.Skipped {
				t.Errorf("the watch left the last change unpushed")
			}
			assertConverged(ctx, t, c, sum, "CRITICAL")
		}},
		{"HelmRelease failing on bad values", func(t *testing.T) {
			// A memory limit below the request: the chart's schema and
			// the offline validation accept any resources, the API
			// server refuses the Deployment, so Helm's upgrade fails.
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "                memory: 192Mi", "                memory: 64Mi")
			sum, out, err := s.sync(ctx, t)
			var ferr *reconcile.FailedError
			if !errors.As(err, &ferr) {
				t.Fatalf("sync of values the API server refuses: %v, want a reconcile failure\n%s", err, out)
			}
			if sum.Artifact == nil || sum.Artifact.Skipped {
				t.Errorf("the offline validation refused values only the API server refuses; the case tests nothing")
			}
			for _, want := range []string{"HelmRelease/ghillie/ghillie failed", "must be less than or equal to memory limit"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the failure does not say %q:\n%v", want, err)
				}
			}
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "                memory: 64Mi", "                memory: 192Mi")
			sum, out, err = s.up(ctx, t)
			if err != nil {
				t.Fatalf("up after the values were fixed: %v\n%s", err, out)
			}
			assertConverged(ctx, t, c, sum, "CRITICAL")
			d := &appsv1.Deployment{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, d); err != nil {
				t.Fatal(err)
			}
			if got := d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); got != "192Mi" {
				t.Errorf("the Deployment's memory limit is %s, want the fixed 192Mi", got)
			}
		}},
		{"Kustomization failing its health checks", func(t *testing.T) {
			// A health check naming a Secret that does not exist (a typo
			// of the operator's ghillie-db-app), with a short timeout so
			// that kustomize-controller gives up soon. healthChecks are
			// used only without wait: with wait, kustomize-controller
			// checks what it applied instead (checkHealth, v1.9).
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "  path: ./gitops/apps/ghillie/data\n  prune: true\n  wait: true\n",
				"  path: ./gitops/apps/ghillie/data\n  prune: true\n  wait: false\n  healthChecks:\n    - apiVersion: v1\n      kind: Secret\n      name: ghillie-db-ap\n      namespace: ghillie\n")
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "  retryInterval: 1m\n  timeout: 10m\n  dependsOn:\n    - name: platform-cloudnative-pg", "  retryInterval: 1m\n  timeout: 15s\n  dependsOn:\n    - name: platform-cloudnative-pg")
			_, out, err := s.sync(ctx, t)
			var ferr *reconcile.FailedError
			if !errors.As(err, &ferr) {
				t.Fatalf("sync with a failing health check: %v, want a reconcile failure\n%s", err, out)
			}
			// The reason's text is kustomize-controller's and varies (it names
			// the object, or says the check's deadline was reached first when
			// the machine is busy): the failure and its reason are what count.
			for _, want := range []string{"Kustomization/flux-system/ghillie-data failed", "HealthCheckFailed"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the failure does not say %q:\n%v", want, err)
				}
			}
			testutil.Edit(t, root, "overlays/local/ghillie.yaml", "      name: ghillie-db-ap\n", "      name: ghillie-db-app\n")
			sum, out, err := s.sync(ctx, t)
			if err != nil {
				t.Fatalf("sync after the health check was fixed: %v\n%s", err, out)
			}
			assertConverged(ctx, t, c, sum, "CRITICAL")
		}},
	}
	for _, st := range steps {
		start := time.Now()
		ok := t.Run(st.name, st.run)
		t.Logf("%s: %s", st.name, time.Since(start).Round(time.Second))
		if !ok {
			return
		}
	}
}

func withTimeout(o up.Options, d time.Duration) up.Options {
	o.Timeout = d
	return o
}

func stepIndex(t *testing.T, steps []progress.Step, prefix string) int {
	t.Helper()
	for i, s := range steps {
		if strings.HasPrefix(s.Name, prefix) {
			return i
		}
	}
	t.Fatalf("no step %q", prefix)
	return -1
}

// configValue is the app's GHILLIE_LOG_LEVEL as applied in the cluster.
func configValue(ctx context.Context, c client.Client) string {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, cm); err != nil {
		return ""
	}
	return cm.Data["GHILLIE_LOG_LEVEL"]
}

// assertConverged checks that every object of the chain is Ready, none
// missing, and that the app runs with the last change.
func assertConverged(ctx context.Context, t *testing.T, c client.Client, sum *up.Summary, logLevel string) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range sum.Objects {
		seen[o.Ref.String()] = true
		if o.State != reconcile.Ready {
			t.Errorf("%s is %s", o.Ref, o.Status)
		}
	}
	for _, want := range []string{
		"Kustomization/flux-system/flux-system", "Kustomization/flux-system/ghillie-data", "Kustomization/flux-system/ghillie-app",
		"HelmRelease/ghillie/ghillie", "HelmRelease/cnpg-system/cloudnative-pg",
	} {
		if !seen[want] {
			t.Errorf("%s is missing from the chain: %v", want, seen)
		}
	}
	if got := configValue(ctx, c); got != logLevel {
		t.Errorf("GHILLIE_LOG_LEVEL is %q, want %q", got, logLevel)
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, &appsv1.Deployment{}); err != nil {
		t.Errorf("Deployment ghillie/ghillie: %v", err)
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: up.App.Name}, &corev1.Secret{}); err != nil {
		t.Errorf("the app Secret: %v", err)
	}
}

// artifact returns the digest the tree's tag points at, after checking
// that the registry serves the whole artifact: the manifest, its config
// and every layer, each matching its digest.
func artifact(t *testing.T, registry string) string {
	t.Helper()
	ref := registry + "/" + up.ArtifactRepo + ":" + up.ArtifactTag
	img, err := crane.Pull(ref, crane.Insecure)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		checkBlob(t, ref, want, l.Compressed)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Errorf("%s: config: %v", ref, err)
	}
	if _, ok := publishAnnotation(t, img); !ok {
		t.Errorf("%s has no %s annotation", ref, publish.ContentDigestAnnotation)
	}
	return d.String()
}

func checkBlob(t *testing.T, ref string, want v1.Hash, open func() (io.ReadCloser, error)) {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatalf("%s: layer %s: %v", ref, want, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("%s: layer %s: %v", ref, want, err)
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != want.String() {
		t.Errorf("%s: layer %s holds %s: a partial upload", ref, want, got)
	}
}

func publishAnnotation(t *testing.T, img v1.Image) (string, bool) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Annotations[publish.ContentDigestAnnotation]
	return v, ok
}
