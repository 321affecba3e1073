package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/cluster/k3d"
)

// downProvider is what down needs of the k3d provider: what it would
// delete, however broken the cluster, and deleting it.
type downProvider interface {
	Describe(ctx context.Context) (string, error)
	Delete(ctx context.Context) (cluster.Removed, error)
}

// newDownProvider returns the k3d provider of --cluster. Tests replace it:
// a k3d cluster needs Docker.
var newDownProvider = func(global *globalOptions) (downProvider, error) {
	return newK3d(global, k3d.Options{})
}

type downOptions struct {
	global *globalOptions
	yes    bool
}

const downLong = `Delete the k3d cluster --cluster that 'gitops-local up' created: its nodes,
its registry (and every artifact pushed to it) and its kubeconfig.

down asks for confirmation on a terminal; --yes skips the question. Without
a terminal (a script, CI) it refuses unless --yes is given. A cluster that
does not exist is not an error. A cluster given with --kubeconfig was not
created by gitops-local and is never deleted.

Exit codes: 0 deleted or nothing to delete, 1 not confirmed, 2 failed.`

func newDownCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &downOptions{global: global}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Delete the k3d cluster, its registry and its kubeconfig (asks first)",
		Long:  downLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, streams)
		},
	}
	cmd.Flags().BoolVarP(&opts.yes, "yes", "y", false, "delete without asking")
	return cmd
}

func (o *downOptions) run(cmd *cobra.Command, streams Streams) error {
	if o.global.kubeconfig != "" {
		return fmt.Errorf("the cluster of %s was not created by gitops-local, so down does not delete it: %w", o.global.kubeconfig, cluster.ErrUnsupported)
	}
	ctx := cmd.Context()
	p, err := newDownProvider(o.global)
	if err != nil {
		return err
	}
	// Say exactly what would go before asking.
	what, err := p.Describe(ctx)
	if err != nil {
		return err
	}
	if what == "" {
		fmt.Fprintf(streams.ErrOut, "k3d cluster %q does not exist: nothing to delete\n", o.global.cluster)
		return o.print(streams, cluster.Removed{})
	}
	if !o.yes {
		if !isTerminal(streams.In) {
			return fmt.Errorf("refusing to delete %s without confirmation: no terminal to ask on; pass --yes", what)
		}
		ok, err := confirm(streams, fmt.Sprintf("Delete %s? [y/N] ", what))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(streams.ErrOut, "not confirmed: nothing was deleted")
			return Silent(ExitFindings)
		}
	}
	removed, err := p.Delete(ctx)
	if err != nil {
		return err
	}
	if removed.Cluster != "" {
		fmt.Fprintf(streams.ErrOut, "✔ deleted k3d cluster %s (nodes %s)\n", removed.Cluster, strings.Join(removed.Nodes, ", "))
	}
	if removed.Registry != "" {
		fmt.Fprintf(streams.ErrOut, "✔ deleted registry %s\n", removed.Registry)
	}
	if removed.Network != "" {
		fmt.Fprintf(streams.ErrOut, "✔ deleted Docker network %s\n", removed.Network)
	}
	if removed.Kubeconfig != "" {
		fmt.Fprintf(streams.ErrOut, "✔ removed kubeconfig %s\n", removed.Kubeconfig)
	}
	if removed.Context != "" {
		fmt.Fprintf(streams.ErrOut, "✔ removed context %s\n", removed.Context)
	}
	return o.print(streams, removed)
}

// print writes what was removed with -o json.
func (o *downOptions) print(streams Streams, removed cluster.Removed) error {
	if o.global.output != OutputJSON {
		return nil
	}
	return writeJSON(streams.Out, "output", removed)
}

// isTerminal reports whether r is an interactive terminal. Tests replace it.
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks question on the error stream and reads a yes or no.
func confirm(streams Streams, question string) (bool, error) {
	fmt.Fprint(streams.ErrOut, question)
	line, err := bufio.NewReader(streams.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
