package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

type versionOptions struct {
	global *globalOptions
}

// versionInfo is what `gitops-local version -o json` prints.
type versionInfo struct {
	Version    string               `json:"version"`
	GoVersion  string               `json:"goVersion"`
	Components []versions.Component `json:"components"`
}

func newVersionCmd(streams Streams, global *globalOptions) *cobra.Command {
	opts := &versionOptions{global: global}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of gitops-local and of every pinned component",
		Long: `Print the version of gitops-local and every component version it pins:
the Flux controllers it installs, the k3s and registry images, and each
platform chart. The pins live in bootstrap/versions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(streams)
		},
	}
}

func (o *versionOptions) run(streams Streams) error {
	info := versionInfo{
		Version:    toolVersion(),
		GoVersion:  runtime.Version(),
		Components: versions.Components(),
	}
	if o.global.output == OutputJSON {
		return writeJSON(streams.Out, "version", info)
	}
	w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "gitops-local\t%s\n", info.Version)
	fmt.Fprintf(w, "go\t%s\n", info.GoVersion)
	for _, c := range info.Components {
		fmt.Fprintf(w, "%s\t%s\n", c.Name, c.Version)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing version: %w", err)
	}
	return nil
}

// toolVersion is the version set at link time, else the module version Go
// recorded (for `go install ...@vX`), else "dev".
func toolVersion() string {
	if versions.Tool != "dev" {
		return versions.Tool
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return versions.Tool
}
