package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix is the prefix of the environment variables that set global flags:
// --cluster is GITOPS_LOCAL_CLUSTER, --kubeconfig is GITOPS_LOCAL_KUBECONFIG.
const envPrefix = "GITOPS_LOCAL_"

// Output formats accepted by --output.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	cluster    string
	kubeconfig string
	verbose    bool
	output     string
	// lookupEnv reads the environment (GITOPS_LOCAL_* settings).
	lookupEnv func(string) (string, bool)
}

const rootLong = `gitops-local runs a local Kubernetes preview of Ghillie that is the same
GitOps deployment as the cloud's ephemeral previews: the same platform
HelmReleases and Kustomize overlays, reconciled by Flux, through a local overlay.

Every global flag can also be set as GITOPS_LOCAL_<NAME> (for example
GITOPS_LOCAL_CLUSTER=dev); a flag on the command line wins.

Exit codes:
  0  success, nothing found
  1  findings or differences (validate, diff)
  2  failure: bad input, bad flags, or an operation that could not complete
  130  interrupted (Ctrl-C or SIGTERM) before the command finished`

func newRootCmd(streams Streams, lookupEnv func(string) (string, bool)) *cobra.Command {
	opts := &globalOptions{lookupEnv: lookupEnv}
	cmd := &cobra.Command{
		Use:           "gitops-local",
		Short:         "A local Kubernetes preview of Ghillie, deployed by Flux exactly as in the cloud",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), lookupEnv); err != nil {
				return err
			}
			return opts.validate(cmd.Name())
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w (see gitops-local --help)", err)
	})

	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.cluster, "cluster", "gitops-local", "name of the local cluster")
	pf.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig of an existing cluster (default: the cluster's own kubeconfig)")
	pf.BoolVarP(&opts.verbose, "verbose", "v", false, "show detailed progress")
	pf.StringVarP(&opts.output, "output", "o", OutputText, "output format: text or json (diff: also markdown)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{OutputText, OutputJSON, OutputMarkdown}, cobra.ShellCompDirectiveNoFileComp))

	cmd.AddCommand(
		newVersionCmd(streams, opts),
		newValidateCmd(streams, opts),
		newDiffCmd(streams, opts),
		newParityCmd(streams, opts),
		newBuildCmd(streams, opts),
		newUpCmd(streams, opts),
		newStatusCmd(streams, opts),
		newSyncCmd(streams, opts),
		newWatchCmd(streams, opts),
		newDownCmd(streams, opts),
		newLogsCmd(streams, opts),
	)
	return cmd
}

func (o *globalOptions) validate(command string) error {
	switch o.output {
	case OutputText, OutputJSON:
	case OutputMarkdown:
		if command != "diff" {
			return fmt.Errorf("invalid --output %q: only diff writes markdown; want %s or %s", o.output, OutputText, OutputJSON)
		}
	default:
		return fmt.Errorf("invalid --output %q: want %s or %s", o.output, OutputText, OutputJSON)
	}
	if o.cluster == "" {
		return fmt.Errorf("--cluster must not be empty")
	}
	return nil
}

// envName is the environment variable that sets the flag with the given name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag that was not given on the command line from its
// GITOPS_LOCAL_<NAME> environment variable, if that is set.
func applyEnv(flags *pflag.FlagSet, lookupEnv func(string) (string, bool)) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		v, ok := lookupEnv(name)
		if !ok {
			return
		}
		if setErr := f.Value.Set(v); setErr != nil {
			err = fmt.Errorf("invalid %s=%q: %w", name, v, setErr)
		}
	})
	return err
}
