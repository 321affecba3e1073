// Command testcluster runs the integration tests' control plane by hand: a
// real kube-apiserver, controller-manager, scheduler, kwok and the Flux
// controllers as processes on loopback.
//
//	go run ./hack/testcluster build  # build missing binaries into the cache
//	go run ./hack/testcluster build etcd kwok  # only these components
//	go run ./hack/testcluster up     # start; prints export KUBECONFIG=...; Ctrl-C stops
//	go run ./hack/testcluster env    # print the KUBECONFIG of the running cluster
//	go run ./hack/testcluster down   # stop the running cluster
//
// Binaries are cached in $GITOPS_LOCAL_TOOLS_DIR (default: gitops-local/bin in
// the user cache directory); the running cluster's state lives in
// $GITOPS_LOCAL_TESTCLUSTER_DIR (default: gitops-local/testcluster there).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		os.Exit(1)
	}
}

const usage = "usage: go run ./hack/testcluster build [COMPONENT...] | up | env | down"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("expected a command\n%s", usage)
	}
	if args[0] != "build" && len(args) > 1 {
		return fmt.Errorf("%s takes no arguments\n%s", args[0], usage)
	}
	switch args[0] {
	case "build":
		return build(ctx, args[1:], stderr)
	case "up":
		return up(ctx, stdout, stderr)
	case "env":
		return printEnv(stdout)
	case "down":
		return down(ctx, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
