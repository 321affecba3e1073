package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
	"github.com/leynos/gitops-local/bootstrap/watch"
)

const watchLong = `Watch gitops/, overlays/ and charts/ and run 'gitops-local sync' each time
they change: once the edits settle (100 ms), the change is validated offline
and refused, saying why, if it is invalid: nothing is pushed. Validated are
overlays/local and every environment whose inputs changed since it last
validated clean: an edit under overlays/<env>/ touches that environment, an
edit under gitops/, charts/ or a shared file under overlays/ touches them
all. A valid change is pushed, reconciled by Flux at once and waited on,
revision-aware, with each object's progress, the objects each Kustomization
created, configured and deleted, and each Helm release, on stderr.

A failed round is reported once and the loop goes on: fixing the file starts
the next round. One round runs at start and validates every environment.
A change that settles while a round is still waiting on Flux supersedes
that round: it is stopped and the new change is synced at once. Ctrl-C
stops it between or during rounds; a push is never left half-done (the
registry only tags a fully uploaded artifact).

With --app-src (a k3d cluster), the Ghillie checkout is watched too: a saved
change rebuilds ghillie:local, imports it into the cluster's nodes and syncs
with its ID in the cluster variables, so the pods roll out through Flux, with
the same progress lines.`

func newWatchCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &upOptions{global: global}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Sync every change to gitops/, overlays/ or charts/ through Flux as it is saved",
		Long:  watchLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Bad flags or an unreadable kubeconfig stop watch at once: no
			// file change can fix them.
			uopts, err := opts.prepare(ctx)
			if err != nil {
				return err
			}
			uopts.Validated = up.NewValidated()
			images, err := opts.appImageRun(uopts.RepoRoot)
			if err != nil {
				return err
			}
			round := func(ctx context.Context, changed []string) error {
				if len(changed) > 0 {
					fmt.Fprintf(streams.ErrOut, "\nchanged: %s\n", strings.Join(changed, ", "))
				}
				ctx, cancel := opts.deadline(ctx)
				defer cancel()
				if images != nil && slices.ContainsFunc(changed, func(p string) bool { return strings.HasPrefix(p, watch.AppPrefix) }) {
					rep := progress.New(streams.ErrOut, opts.global.verbose)
					if _, err := rep.Run(ctx, images.ImageSteps()); err != nil {
						return opts.timedOut(ctx, "the round", err)
					}
					uopts.ImageID = images.ImageID
				}
				return opts.timedOut(ctx, "the round", opts.execute(ctx, streams, uopts))
			}
			report := func(err error) { fmt.Fprintf(streams.ErrOut, "✗ %v\n", err) }
			if err := round(ctx, nil); err != nil && ctx.Err() == nil {
				report(err)
			}
			fmt.Fprintf(streams.ErrOut, "watching %s/{gitops,overlays,charts} (Ctrl-C to stop)\n", uopts.RepoRoot)
			superseded := func([]string) {
				fmt.Fprintln(streams.ErrOut, "↻ a newer change supersedes this round")
			}
			return watch.Run(ctx, watch.Options{Root: uopts.RepoRoot, AppSrc: opts.appSrc, Round: round, OnError: report, OnSuperseded: superseded})
		},
	}
	opts.flags(cmd)
	cmd.Flags().StringVar(&opts.appSrc, "app-src", "", "also watch this Ghillie checkout: a saved change rebuilds ghillie:local, imports it and rolls it out through Flux (k3d)")
	_ = cmd.MarkFlagDirname("app-src")
	return cmd
}

// appImageRun is what remakes and imports the app image when --app-src
// changes; nil without --app-src.
func (o *upOptions) appImageRun(root string) (*up.ClusterRun, error) {
	if o.appSrc == "" {
		return nil, nil
	}
	p, err := o.cluster.provider(o.global, progress.Discard)
	if err != nil {
		return nil, err
	}
	run, err := up.NewClusterRun(p, up.AppImage{AppSrc: o.appSrc}, root, progress.Discard)
	if errors.Is(err, up.ErrImageNotImported) {
		return nil, errors.New("--app-src is for a k3d cluster; with --kubeconfig, get the image to the cluster yourself")
	}
	return run, err
}
