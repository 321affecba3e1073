package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

type rounds struct {
	mu   sync.Mutex
	got  [][]string
	errs []error
	fail error
	c    chan struct{}
}

func (r *rounds) round(_ context.Context, changed []string) error {
	r.mu.Lock()
	r.got = append(r.got, changed)
	fail := r.fail
	r.mu.Unlock()
	r.c <- struct{}{}
	return fail
}

func start(t *testing.T) (string, *rounds, func()) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"gitops/apps", "overlays/local", "charts/ghillie"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &rounds{c: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{Root: root, Debounce: 100 * time.Millisecond, Round: r.round,
			OnError: func(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() }})
	}()
	time.Sleep(100 * time.Millisecond) // let the watcher start
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	return root, r, stop
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *rounds) wait(t *testing.T) []string {
	t.Helper()
	select {
	case <-r.c:
	case <-time.After(5 * time.Second):
		t.Fatal("no round after a change")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

func (r *rounds) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.c:
		r.mu.Lock()
		t.Errorf("unexpected round: %v", r.got[len(r.got)-1])
		r.mu.Unlock()
	case <-time.After(d):
	}
}

func TestBurstIsOneRound(t *testing.T) {
	root, r, stop := start(t)
	defer stop()
	for i := 0; i < 5; i++ {
		write(t, root, "overlays/local/ghillie.yaml", "v: "+string(rune('a'+i)))
		write(t, root, "charts/ghillie/values.yaml", "x: 1")
	}
	got := r.wait(t)
	if !slices.Equal(got, []string{"charts/ghillie/values.yaml", "overlays/local/ghillie.yaml"}) {
		t.Errorf("changed = %v", got)
	}
	r.none(t, 400*time.Millisecond)
}

func TestEditorLitterIsIgnored(t *testing.T) {
	root, r, stop := start(t)
	defer stop()
	write(t, root, "overlays/local/.ghillie.yaml.swp", "x")
	write(t, root, "overlays/local/ghillie.yaml~", "x")
	r.none(t, 500*time.Millisecond)
}

func TestNewFolderIsWatched(t *testing.T) {
	root, r, stop := start(t)
	defer stop()
	write(t, root, "overlays/ephemeral/pr-9/kustomization.yaml", "resources: []")
	r.wait(t)
	// Later edits inside the new folder are seen too.
	time.Sleep(200 * time.Millisecond)
	write(t, root, "overlays/ephemeral/pr-9/kustomization.yaml", "resources: [a.yaml]")
	if got := r.wait(t); !slices.Contains(got, "overlays/ephemeral/pr-9/kustomization.yaml") {
		t.Errorf("changed = %v", got)
	}
}

func TestFailedRoundKeepsWatching(t *testing.T) {
	root, r, stop := start(t)
	defer stop()
	r.mu.Lock()
	r.fail = errors.New("kustomize build failed")
	r.mu.Unlock()
	write(t, root, "gitops/apps/x.yaml", "broken: [")
	r.wait(t)
	r.mu.Lock()
	r.fail = nil
	r.mu.Unlock()
	write(t, root, "gitops/apps/x.yaml", "fixed: true")
	r.wait(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) != 1 || r.errs[0].Error() != "kustomize build failed" {
		t.Errorf("errors reported: %v, want the failed round's error once", r.errs)
	}
}

// TestNewerChangeSupersedesARunningRound: a round still waiting when a new
// change settles is cancelled, not reported as failed, and the next round
// starts with the new change at once.
func TestNewerChangeSupersedesARunningRound(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "overlays/local"), 0o755); err != nil {
		t.Fatal(err)
	}
	type call struct {
		changed []string
		ended   error // the round's context error when it returned
	}
	calls := make(chan call, 10)
	var mu sync.Mutex
	var errs []error
	var superseded [][]string
	first := true
	round := func(ctx context.Context, changed []string) error {
		if first {
			first = false
			<-ctx.Done() // a long wait on Flux, until superseded
			calls <- call{changed, ctx.Err()}
			return ctx.Err()
		}
		calls <- call{changed, ctx.Err()}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{Root: root, Debounce: 100 * time.Millisecond, Round: round,
			OnError:      func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
			OnSuperseded: func(p []string) { mu.Lock(); superseded = append(superseded, p); mu.Unlock() }})
	}()
	time.Sleep(100 * time.Millisecond)

	write(t, root, "overlays/local/a.yaml", "a")
	time.Sleep(400 * time.Millisecond) // the first round is now waiting
	write(t, root, "overlays/local/b.yaml", "b")

	next := func() call {
		select {
		case c := <-calls:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no round ended")
			return call{}
		}
	}
	if c := next(); !slices.Equal(c.changed, []string{"overlays/local/a.yaml"}) || !errors.Is(c.ended, context.Canceled) {
		t.Errorf("first round = %+v, want a.yaml cancelled", c)
	}
	if c := next(); !slices.Equal(c.changed, []string{"overlays/local/b.yaml"}) || c.ended != nil {
		t.Errorf("second round = %+v, want b.yaml running", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Errorf("a superseded round was reported as failed: %v", errs)
	}
	if len(superseded) != 1 || !slices.Equal(superseded[0], []string{"overlays/local/b.yaml"}) {
		t.Errorf("OnSuperseded got %v, want one call for b.yaml", superseded)
	}
}

// TestStopWaitsForTheRound: Ctrl-C during a round returns only once the
// round has stopped, so nothing it does is cut off by the process exiting.
func TestStopWaitsForTheRound(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "gitops"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var stopped sync.WaitGroup
	stopped.Add(1)
	var returned bool
	round := func(ctx context.Context, _ []string) error {
		close(started)
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // finishing a push
		returned = true
		stopped.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, Options{Root: root, Debounce: 50 * time.Millisecond, Round: round}) }()
	time.Sleep(100 * time.Millisecond)
	write(t, root, "gitops/x.yaml", "x")
	<-started
	cancel()
	<-done
	if !returned {
		t.Error("Run returned before the round in progress had stopped")
	}
	stopped.Wait()
}

// TestAppSrcChangesAreWatched: a saved module of the app's checkout
// starts a round naming it with AppPrefix; its virtualenv and caches do
// not.
func TestAppSrcChangesAreWatched(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"gitops", "overlays/local", "charts"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app := t.TempDir()
	for _, d := range []string{"ghillie", ".venv/lib", "ghillie/__pycache__"} {
		if err := os.MkdirAll(filepath.Join(app, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &rounds{c: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Root: root, AppSrc: app, Debounce: 100 * time.Millisecond, Round: r.round})
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // let the watcher start

	write(t, app, ".venv/lib/site.py", "x = 1\n")
	write(t, app, "ghillie/__pycache__/runtime.cpython-313.pyc", "x")
	write(t, app, "ghillie/runtime.py", "x = 2\n")
	got := r.wait(t)
	if !slices.Equal(got, []string{AppPrefix + "ghillie/runtime.py"}) {
		t.Errorf("round for %v, want only %sghillie/runtime.py", got, AppPrefix)
	}
	write(t, root, "overlays/local/x.yaml", "a: 1\n")
	if got := r.wait(t); !slices.Equal(got, []string{"overlays/local/x.yaml"}) {
		t.Errorf("round for %v, want the overlay's file", got)
	}
}
