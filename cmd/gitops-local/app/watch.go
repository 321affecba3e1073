package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/up"
	"github.com/leynos/gitops-local/bootstrap/watch"
)

const watchLong = `Watch gitops/, overlays/ and charts/ and run 'gitops-local sync' each time
they change: once the edits settle (300 ms), the change is validated offline
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
registry only tags a fully uploaded artifact).`

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
			round := func(ctx context.Context, changed []string) error {
				if len(changed) > 0 {
					fmt.Fprintf(streams.ErrOut, "\nchanged: %s\n", strings.Join(changed, ", "))
				}
				ctx, cancel := opts.deadline(ctx)
				defer cancel()
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
			return watch.Run(ctx, watch.Options{Root: uopts.RepoRoot, Round: round, OnError: report, OnSuperseded: superseded})
		},
	}
	opts.flags(cmd)
	return cmd
}
