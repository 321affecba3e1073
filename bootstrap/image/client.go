package image

import (
	"fmt"
	"io"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/docker/client"
	"github.com/spf13/pflag"
)

// NewClient returns a client of the Docker engine the docker CLI talks
// to, found the way the docker CLI and k3d find it: the --host default
// (DOCKER_HOST), else the context named by DOCKER_CONTEXT, else the
// current context of ~/.docker/config.json (or $DOCKER_CONFIG) from the
// contexts' meta store (Colima, OrbStack, Rancher Desktop and Docker
// Desktop each make one), else the local socket; with the TLS settings of
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, speaking the API version the
// engine offers. It is how k3d v5.8.3 creates its own client
// (pkg/runtimes/docker/util.go GetDockerClient: docker/cli's
// flags.NewClientOptions, InstallFlags, SetDefaultOptions) and how the
// docker CLI resolves its endpoint (docker/cli v28.5.0
// cli/command/cli.go NewAPIClientFromFlags, resolveContextName), so the
// image is built in the engine k3d runs the cluster in. It opens no
// connection.
func NewClient() (client.APIClient, error) {
	opts := flags.NewClientOptions()
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	opts.InstallFlags(fs)
	opts.SetDefaultOptions(fs)
	cfg := config.LoadDefaultConfigFile(io.Discard)
	c, err := command.NewAPIClientFromFlags(opts, cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring the Docker client from the current docker context (see `docker context ls`): %w", err)
	}
	return c, nil
}
