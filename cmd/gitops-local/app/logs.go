package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/leynos/gitops-local/bootstrap/logs"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
)

type logsOptions struct {
	global    *globalOptions
	follow    bool
	since     time.Duration
	tail      int64
	container string
	flux      bool
}

const logsLong = `Show the logs of the app's pods (labelled app.kubernetes.io/name=ghillie in
namespace ghillie): every container of every pod, or only --container NAME,
each line prefixed [pod/POD/CONTAINER] when there is more than one stream or
when following; -o json writes each line as {"pod","container","message"}.
With --follow it keeps streaming, also from the pods a rollout starts
later, until Ctrl-C.

With --flux it shows instead the logs of source-, kustomize- and
helm-controller, kept to the lines about this environment's Flux objects
(the root Kustomization flux-system/flux-system, its source, and every
Kustomization, HelmRelease and source they apply), as
"TIME LEVEL CONTROLLER KIND/NAMESPACE/NAME: MESSAGE"; -o json passes the
controllers' JSON lines as they are, -v also shows their non-JSON lines.

Log lines go to stdout, notes to stderr. This version reads a cluster given
with --kubeconfig.

Exit codes: 0 done (or stopped with Ctrl-C), 2 no pods, an unknown
container, or a cluster that could not be read.`

const logsExample = `  gitops-local logs --kubeconfig kc -f
  gitops-local logs --kubeconfig kc --container app --since 10m --tail -1
  gitops-local logs --kubeconfig kc --flux -f`

func newLogsCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &logsOptions{global: global}
	cmd := &cobra.Command{
		Use:     "logs",
		Short:   "Show the app's logs, or the Flux controllers' logs about this environment",
		Long:    logsLong,
		Example: logsExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.follow, "follow", "f", false, "keep streaming, also from pods that start later, until Ctrl-C")
	f.DurationVar(&opts.since, "since", 0, "only lines newer than this, such as 10m or 2h (default: no limit)")
	f.Int64Var(&opts.tail, "tail", 0, fmt.Sprintf("recent lines of each container to show first, -1 for all (default %d, all with --flux)", logs.DefaultTail))
	f.StringVarP(&opts.container, "container", "c", "", "only this container of the app's pods (default: every container)")
	f.BoolVar(&opts.flux, "flux", false, "the Flux controllers' logs about this environment's objects instead of the app's")
	return cmd
}

func (o *logsOptions) run(cmd *cobra.Command, streams Streams) error {
	if o.tail == 0 && cmd.Flags().Changed("tail") {
		return errors.New("invalid --tail 0: give a number of lines, or -1 for every line")
	}
	if o.tail < -1 {
		return fmt.Errorf("invalid --tail %d: give a number of lines, or -1 for every line", o.tail)
	}
	if o.since < 0 {
		return fmt.Errorf("invalid --since %s: give a positive duration such as 10m", o.since)
	}
	if o.flux && o.container != "" {
		return errors.New("--container chooses among the app's containers: it does not combine with --flux")
	}
	cfg, _, err := clusterConfig(cmd.Context(), o.global)
	if err != nil {
		return err
	}
	if !o.follow {
		// A followed stream lasts as long as asked; Ctrl-C ends it.
		cfg.Timeout = requestTimeout
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	opts := logs.Options{
		Since: o.since, Tail: o.tail, Follow: o.follow, Container: o.container,
		JSON: o.global.output == OutputJSON, Out: streams.Out,
		Log: progress.New(streams.ErrOut, o.global.verbose),
	}
	if !o.flux {
		opts.Namespace = up.App.Namespace
		opts.Selector = appSelector
		return logs.App(cmd.Context(), cs, opts)
	}
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	return logs.Flux(cmd.Context(), cs, c, logs.FluxOptions{Options: opts, Verbose: o.global.verbose})
}
