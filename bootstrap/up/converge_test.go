package up_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/up"
)

// copyRepo copies the GitOps folders of this repository into a temporary
// directory, so a test can change them.
func copyRepo(t testing.TB) string {
	t.Helper()
	return testutil.CopyRepo(t, filepath.Join("..", ".."))
}

// stack is a control plane with the operator stand-ins running.
type stack struct {
	env  *testenv.Env
	opts up.Options
}

func newStack(ctx context.Context, t testing.TB, root string) *stack {
	t.Helper()
	env := testenv.Start(ctx, t)
	c := testenv.Client(t, env)
	standCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	standInForOperators(standCtx, t, c, &wg)
	t.Cleanup(func() { stop(); wg.Wait() })
	return &stack{env: env, opts: up.Options{
		RepoRoot: root, Config: env.Config,
		RegistryPush: env.RegistryPush, RegistryPull: env.RegistryPull,
		Charts: seededCache(t), Timeout: 3 * time.Minute,
	}}
}

func (s *stack) sync(ctx context.Context, t testing.TB) (*up.Summary, string, error) {
	t.Helper()
	var out bytes.Buffer
	rep := progress.New(&out, true)
	opts := s.opts
	opts.Log = rep
	sum, err := up.Sync(ctx, rep, opts)
	return sum, out.String(), err
}

func (s *stack) up(ctx context.Context, t testing.TB) (*up.Summary, string, error) {
	t.Helper()
	var out bytes.Buffer
	rep := progress.New(&out, true)
	opts := s.opts
	opts.Log = rep
	sum, err := up.Run(ctx, rep, opts)
	return sum, out.String(), err
}

// TestUpConvergesAfterCancel interrupts up inside each step in turn, as
// Ctrl-C would, then runs it to the end: every state an interrupted up
// leaves must be one the next up converges from. It then checks that sync
// refuses an invalid change without pushing, and pushes and applies a valid
// one.
func TestUpConvergesAfterCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root := copyRepo(t)
	s := newStack(ctx, t, root)

	delays := []time.Duration{100 * time.Millisecond, 20 * time.Millisecond, 5 * time.Millisecond, 3 * time.Second}
	for i, d := range delays {
		r, err := up.New(s.opts)
		if err != nil {
			t.Fatal(err)
		}
		steps := r.Steps()
		orig := steps[i].Run
		steps[i].Run = func(ctx context.Context) error {
			cctx, stop := context.WithTimeout(ctx, d)
			defer stop()
			if err := orig(cctx); err != nil {
				return err
			}
			return context.Canceled // interrupted just as the step ended
		}
		_, err = progress.New(&bytes.Buffer{}, false).Run(ctx, steps)
		if err == nil {
			t.Fatalf("interrupting step %d (%s) did not stop up", i, steps[i].Name)
		}
		t.Logf("interrupted in step %d (%s): %v", i, steps[i].Name, firstLine(err))
	}

	sum, out, err := s.up(ctx, t)
	if err != nil {
		t.Fatalf("up after interruptions: %v\n%s", err, out)
	}
	for _, o := range sum.Objects {
		if o.State != reconcile.Ready {
			t.Errorf("%s is %s", o.Ref, o.Status)
		}
	}

	// An invalid change is refused by sync before anything is pushed.
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "              pullPolicy: IfNotPresent", "              pullPolicy: IfNotPresent\n              tagg: oops")
	sum, out, err = s.sync(ctx, t)
	var invalid *up.InvalidError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "spec.values.image") || !strings.Contains(err.Error(), "tagg") {
		t.Fatalf("sync of an invalid change: %v, want a validation error naming spec.values.image and tagg\n%s", err, out)
	}
	if sum.Artifact != nil {
		t.Errorf("sync pushed an invalid change: %+v", sum.Artifact)
	}
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "\n              tagg: oops", "")

	// So is an invalid change to an environment that is not deployed here:
	// the error names the environment, the file, the object and the field.
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "              pullPolicy: IfNotPresent", "              pullPolicy: IfNotPresent\n              tagg: oops")
	sum, out, err = s.sync(ctx, t)
	if !errors.As(err, &invalid) || !slices.Equal(invalid.Environments, []string{"staging"}) {
		t.Fatalf("sync of an invalid staging overlay: %v, want a validation error about staging\n%s", err, out)
	}
	for _, want := range []string{"overlays/staging does not validate", "gitops/apps/ghillie/app/helmrelease.yaml:", "[staging] HelmRelease/ghillie/ghillie: spec.values.image.tagg: unknown key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	if sum.Artifact != nil {
		t.Errorf("sync pushed an invalid staging overlay: %+v", sum.Artifact)
	}
	testutil.Edit(t, root, "overlays/staging/ghillie.yaml", "\n              tagg: oops", "")

	// A changed overlay is pushed and reconciled; the charts are not pushed.
	testutil.Edit(t, root, "overlays/local/ghillie.yaml", "GHILLIE_LOG_LEVEL: DEBUG", "GHILLIE_LOG_LEVEL: WARNING")
	sum, out, err = s.sync(ctx, t)
	if err != nil {
		t.Fatalf("sync after an overlay change: %v\n%s", err, out)
	}
	if sum.Artifact.Skipped {
		t.Errorf("the changed tree was not pushed")
	}
	for _, ch := range sum.Charts {
		if !ch.Skipped {
			t.Errorf("unchanged chart %s pushed again", ch.URL)
		}
	}
	c := testenv.Client(t, s.env)
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: up.App.Namespace, Name: "ghillie"}, cm); err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["GHILLIE_LOG_LEVEL"]; got != "WARNING" {
		t.Errorf("GHILLIE_LOG_LEVEL = %q after up, want WARNING", got)
	}
}

// TestUpReportsFailures breaks the local environment in three ways and
// checks that up stops at once, naming the object and Flux's reason.
func TestUpReportsFailures(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, root string)
		want   []string
	}{
		{
			name: "broken overlay",
			break_: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/local/kustomization.yaml", "  - ghillie.yaml", "  - ghillie.yaml\n  - missing.yaml")
			},
			want: []string{"Kustomization/flux-system/flux-system failed", "missing.yaml"},
		},
		{
			name: "values error in a HelmRelease",
			break_: func(t *testing.T, root string) {
				testutil.Edit(t, root, "overlays/local/ghillie.yaml", "              pullPolicy: IfNotPresent", "              pullPolicy: IfNotPresent\n              tagg: oops")
			},
			want: []string{"HelmRelease/ghillie/ghillie failed", "tagg"},
		},
		{
			name: "missing CRD",
			break_: func(t *testing.T, root string) {
				// No valkey-operator: nothing installs the Valkey CRD.
				testutil.Edit(t, root, "overlays/local/ghillie.yaml", "    - name: platform-valkey-operator\n", "")
				dropDocument(t, root, "overlays/local/platform.yaml", "name: platform-valkey-operator\n")
			},
			want: []string{"Kustomization/flux-system/ghillie-data failed", "Valkey"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			root := copyRepo(t)
			tc.break_(t, root)
			s := newStack(ctx, t, root)
			start := time.Now()
			_, out, err := s.up(ctx, t)
			if err == nil {
				t.Fatalf("up succeeded on a broken environment:\n%s", out)
			}
			var ferr *reconcile.FailedError
			if !errors.As(err, &ferr) {
				t.Fatalf("up failed with %v, want a reconcile failure naming the object\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			t.Logf("failed after %s: %v", time.Since(start).Round(time.Second), err)
		})
	}
}

// dropDocument removes from a YAML stream the document containing marker.
func dropDocument(t *testing.T, root, file, marker string) {
	t.Helper()
	p := filepath.Join(root, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if !strings.Contains(doc, marker) {
			kept = append(kept, doc)
		}
	}
	if len(kept) == len(strings.Split(string(data), "\n---\n")) {
		t.Fatalf("%s has no document with %q", file, marker)
	}
	if err := os.WriteFile(p, []byte(strings.Join(kept, "\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
