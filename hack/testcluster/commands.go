package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leynos/gitops-local/hack/controlplane"
)

// stateDirEnv overrides where `up` keeps the running cluster's files.
const stateDirEnv = "GITOPS_LOCAL_TESTCLUSTER_DIR"

func build(ctx context.Context, components []string, log io.Writer) error {
	for _, name := range components {
		if !slices.ContainsFunc(controlplane.Components(), func(c controlplane.Component) bool { return c.Name == name }) {
			return fmt.Errorf("unknown component %q: choose among etcd, kubernetes, kwok, source-controller, kustomize-controller, helm-controller", name)
		}
	}
	start := time.Now()
	if err := controlplane.Build(ctx, controlplane.BuildOptions{Log: log, Components: components}); err != nil {
		return err
	}
	fmt.Fprintf(log, "binaries present (%s)\n", time.Since(start).Round(time.Second))
	return nil
}

func stateDir() (string, error) {
	if d := os.Getenv(stateDirEnv); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the cache directory: %w (set %s)", err, stateDirEnv)
	}
	return filepath.Join(d, "gitops-local", "testcluster"), nil
}

// running returns the pid of the `up` process owning dir, if it is alive.
func running(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

func up(ctx context.Context, stdout, log io.Writer) error {
	dir, err := stateDir()
	if err != nil {
		return err
	}
	if pid, ok := running(dir); ok {
		return fmt.Errorf("a test cluster is already running (pid %d, %s): run `go run ./hack/testcluster down` first", pid, dir)
	}
	// Whatever is left belongs to an `up` that died; its processes died with it.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	env, err := controlplane.Start(ctx, controlplane.Options{Dir: dir, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "export KUBECONFIG=%s\n", env.Kubeconfig)
	fmt.Fprintf(log, "registry: %s; logs: %s; Ctrl-C or `go run ./hack/testcluster down` stops it\n",
		env.RegistryPush, filepath.Join(dir, "logs"))
	<-ctx.Done()
	fmt.Fprintln(log, "stopping...")
	return env.Stop()
}

func printEnv(stdout io.Writer) error {
	dir, err := stateDir()
	if err != nil {
		return err
	}
	if _, ok := running(dir); !ok {
		return errors.New("no test cluster is running: run `go run ./hack/testcluster up`")
	}
	fmt.Fprintf(stdout, "export KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
	return nil
}

func down(ctx context.Context, log io.Writer) error {
	dir, err := stateDir()
	if err != nil {
		return err
	}
	pid, ok := running(dir)
	if !ok {
		fmt.Fprintln(log, "no test cluster is running")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping the test cluster (pid %d): %w", pid, err)
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if syscall.Kill(pid, 0) != nil {
			fmt.Fprintln(log, "test cluster stopped")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("test cluster (pid %d) still running 30s after SIGTERM", pid)
		case <-tick.C:
		}
	}
}
