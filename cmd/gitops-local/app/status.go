package app

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/status"
	"github.com/leynos/gitops-local/bootstrap/up"
)

type statusOptions struct {
	global *globalOptions
	url    string
}

const statusLong = `Show what the preview cluster runs: its nodes, the Flux controllers and
their images, every Flux Kustomization and HelmRelease with its state and
the revision it applied (ready only when it has applied its source's current
revision), the app's pods and the preview URL.

It reads the k3d cluster --cluster (with its registry and kubeconfig), or
the cluster given with --kubeconfig.

Exit codes: 0 everything Ready, 1 something is not Ready, 2 the cluster could
not be read.`

func newStatusCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &statusOptions{global: global}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the preview's nodes, Flux controllers, Flux objects and app pods",
		Long:  statusLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams)
		},
	}
	cmd.Flags().StringVar(&opts.url, "url", "", "the preview's address through the cluster's ingress, to show with the rest")
	return cmd
}

func (o *statusOptions) run(cmd *cobra.Command, streams Streams) error {
	cfg, cl, err := clusterConfig(cmd.Context(), o.global)
	if err != nil {
		return err
	}
	cfg.Timeout = requestTimeout
	url := o.url
	if url == "" && cl != nil {
		url = cl.URL
	}
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	r, err := status.Collect(cmd.Context(), c, status.Options{
		Server: cfg.Host, AppNamespace: up.App.Namespace, URL: url,
		AppSelector: appSelector,
	})
	if err != nil {
		return err
	}
	if o.global.output == OutputJSON {
		if err := writeJSON(streams.Out, "status", statusOutput{Cluster: cl, Report: r}); err != nil {
			return err
		}
	} else if err := writeStatus(streams, cl, r); err != nil {
		return err
	}
	if !r.Ready() {
		return Silent(ExitFindings)
	}
	return nil
}

// statusOutput is status's -o json output.
type statusOutput struct {
	// Cluster is the k3d cluster, when status looks at one.
	Cluster *cluster.Cluster `json:"cluster,omitempty"`
	*status.Report
}

func writeStatus(streams Streams, cl *cluster.Cluster, r *status.Report) error {
	w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	mark := func(ok bool) string {
		if ok {
			return "✔"
		}
		return "✗"
	}
	if cl != nil {
		fmt.Fprintf(w, "cluster\t%s (%s)\tkubeconfig %s\n", cl.Name, cl.Provider, cl.Kubeconfig)
		fmt.Fprintf(w, "registry\t%s\tin the cluster %s\n", cl.RegistryPush, cl.RegistryPull)
	}
	fmt.Fprintf(w, "server\t%s\n", r.Server)
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "node\t%s %s\t%s\n", mark(n.Ready), n.Name, n.Version)
	}
	if len(r.Controllers) == 0 {
		fmt.Fprintf(w, "flux\t✗ not installed (run gitops-local up)\n")
	}
	for _, c := range r.Controllers {
		fmt.Fprintf(w, "flux\t%s %s\t%s\n", mark(c.Available), c.Name, c.Image)
	}
	for _, o := range r.Objects {
		line := fmt.Sprintf("%s %s\t%s\t%s", mark(o.State == "ready"), o.Ref, o.State, o.Revision)
		if o.State != "ready" && o.Message != "" {
			line += "\t" + strings.Join(strings.Fields(o.Message), " ")
		}
		fmt.Fprintf(w, "object\t%s\n", line)
	}
	for _, p := range r.Pods {
		fmt.Fprintf(w, "pod\t%s %s\t%s\trestarts %d\n", mark(p.Ready), p.Name, p.Phase, p.Restarts)
	}
	if r.URL != "" {
		fmt.Fprintf(w, "url\t%s\n", r.URL)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}
