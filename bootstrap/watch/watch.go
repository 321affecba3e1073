// Package watch runs a function each time the GitOps tree changes: it
// watches gitops/, overlays/ and charts/ (new folders included), waits until
// the edits settle, and runs one round. A change that settles while a round
// is still running supersedes it: the round's context is cancelled, it is
// awaited, and the next round starts at once, so a new edit never waits for
// the end of an older round's wait on Flux.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/publish"
)

// Options configure Run.
type Options struct {
	// Root is the repository checkout.
	Root string
	// AppSrc, when set, is the app's checkout, watched too: its changed
	// paths are given to Round as AppPrefix + the path relative to it.
	// Folders whose names start with a dot (.git, .venv), __pycache__ and
	// node_modules are not watched.
	AppSrc string
	// Debounce is how long the tree must stay quiet before a round;
	// default 100ms: an editor's save settles within milliseconds,
	// and a round started too early is superseded by the change that
	// follows, having pushed nothing or a complete tree.
	Debounce time.Duration
	// Round is called after each settled change with the changed paths
	// (relative to Root). Its error is reported through OnError and the
	// loop goes on: fixing the file starts the next round. Its context is
	// cancelled when a newer change supersedes it; it must then return
	// soon, leaving nothing half-done (a push tags only complete uploads).
	Round func(ctx context.Context, changed []string) error
	// OnError reports a round's error; nil ignores it. A superseded round's
	// error is not reported.
	OnError func(error)
	// OnSuperseded is told when a round is cancelled for a newer change;
	// nil ignores it.
	OnSuperseded func(changed []string)
}

// AppPrefix starts the changed paths that are in Options.AppSrc.
const AppPrefix = "app:"

// Run watches until ctx ends, then returns nil. A round in progress when
// ctx ends is given the cancelled context and awaited.
func Run(ctx context.Context, opts Options) error {
	if opts.Round == nil {
		return errors.New("watch: no round to run")
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", opts.Root, err)
	}
	defer w.Close()
	for _, d := range manifest.PublishedDirs {
		if err := addTree(w, filepath.Join(opts.Root, d), nil); err != nil {
			return err
		}
	}
	if opts.AppSrc != "" {
		if err := addTree(w, opts.AppSrc, appSkipped); err != nil {
			return err
		}
	}
	// rel names a changed path for Round.
	rel := func(name string) string {
		if opts.AppSrc != "" {
			if r, err := filepath.Rel(opts.AppSrc, name); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
				return AppPrefix + filepath.ToSlash(r)
			}
		}
		r, err := filepath.Rel(opts.Root, name)
		if err != nil {
			return name
		}
		return filepath.ToSlash(r)
	}

	changed := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()

	// The round in progress, if any: it runs beside the loop so that the
	// loop keeps reading events and can supersede it.
	var cur *running
	// finish takes the result of the round in progress, reporting its error
	// unless it was superseded or the watch is ending.
	finish := func(err error) {
		cur.cancel()
		if err != nil && !cur.superseded && ctx.Err() == nil && opts.OnError != nil {
			opts.OnError(err)
		}
		cur = nil
	}
	// A round still running when the watch ends has been given the
	// cancelled context: wait for it to stop.
	defer func() {
		if cur != nil {
			finish(<-cur.done)
		}
	}()
	for {
		var roundDone <-chan error
		if cur != nil {
			roundDone = cur.done
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-roundDone:
			finish(err)
		case err := <-w.Errors:
			if opts.OnError != nil {
				opts.OnError(fmt.Errorf("watching %s: %w", opts.Root, err))
			}
		case ev := <-w.Events:
			if publish.Ignored(filepath.Base(ev.Name)) || ev.Op == fsnotify.Chmod {
				continue
			}
			name := rel(ev.Name)
			inApp := strings.HasPrefix(name, AppPrefix)
			if inApp && appSkipped(filepath.Base(ev.Name)) {
				continue
			}
			if ev.Op&fsnotify.Create != 0 {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					// A new folder: watch it, and count what it already holds.
					var skip func(string) bool
					if inApp {
						skip = appSkipped
					}
					_ = addTree(w, ev.Name, skip)
				}
			}
			changed[name] = true
			timer.Reset(opts.Debounce)
		case <-timer.C:
			paths := make([]string, 0, len(changed))
			for p := range changed {
				paths = append(paths, p)
			}
			clear(changed)
			slices.Sort(paths)
			if cur != nil {
				cur.superseded = true
				cur.cancel()
				if opts.OnSuperseded != nil {
					opts.OnSuperseded(paths)
				}
				finish(<-cur.done)
			}
			cur = startRound(ctx, opts.Round, paths)
		}
	}
}

// running is a round in progress.
type running struct {
	cancel     context.CancelFunc
	done       chan error
	superseded bool
}

// startRound runs round in its own goroutine with a context the loop can
// cancel.
func startRound(ctx context.Context, round func(context.Context, []string) error, paths []string) *running {
	rctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- round(rctx, paths) }()
	return r
}

// appSkipped reports whether a name in the app's checkout is none of the
// image's business: hidden folders (.git, .venv), caches.
func appSkipped(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__pycache__" || name == "node_modules"
}

// addTree watches dir and every folder below it but those skip names.
func addTree(w *fsnotify.Watcher, dir string, skip func(string) bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if skip != nil && p != dir && skip(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			return fmt.Errorf("watching %s: %w", p, err)
		}
		return nil
	})
}
