// Package benchtools holds what the benchmarks under hack/ share: the
// pinned tools they compare gitops-local with (installed once with `go
// install` into the user cache), interleaved timing and its medians and
// ratios, and how a run asks gitops-local for a cold (uncached) build.
package benchtools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// DirEnv overrides where the benchmark tools are installed.
const DirEnv = "GITOPS_LOCAL_BENCH_TOOLS"

// Tool is a command installed with `go install Package@Version`.
type Tool struct {
	// Name is the command's name (the last element of Package).
	Name string
	// Package is the main package's import path.
	Package string
	// Version is the module version, from bootstrap/versions.
	Version string
	// Toolchain, when set, is the GOTOOLCHAIN the install needs.
	Toolchain string
}

// Pinned tools, at the versions in bootstrap/versions.
var (
	Kustomize   = Tool{Name: "kustomize", Package: "sigs.k8s.io/kustomize/kustomize/v5", Version: versions.BenchKustomize}
	Helm        = Tool{Name: "helm", Package: "helm.sh/helm/v4/cmd/helm", Version: versions.BenchHelm}
	Kubeconform = Tool{Name: "kubeconform", Package: "github.com/yannh/kubeconform/cmd/kubeconform", Version: versions.BenchKubeconform}
	Flate       = Tool{Name: "flate", Package: "github.com/home-operations/flate/cmd/flate", Version: versions.BenchFlate, Toolchain: versions.BenchFlateGo}
)

// Dir is where tools are installed: $GITOPS_LOCAL_BENCH_TOOLS, else
// gitops-local/bench-tools in the user cache directory.
func Dir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no directory for the benchmark tools (set %s): %w", DirEnv, err)
	}
	return filepath.Join(c, "gitops-local", "bench-tools"), nil
}

// Path is where t's binary is installed under dir: one folder per
// version, so that a pin change installs afresh.
func (t Tool) Path(dir string) string {
	return filepath.Join(dir, t.Name+"-"+t.Version, t.Name)
}

// Ensure returns the path of t's binary, installing it first when it is
// missing. Progress goes to log.
func (t Tool) Ensure(ctx context.Context, dir string, log io.Writer) (string, error) {
	p := t.Path(dir)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	fmt.Fprintf(log, "installing %s@%s (once) ...\n", t.Package, t.Version)
	cmd := exec.CommandContext(ctx, "go", "install", t.Package+"@"+t.Version)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(p), "GOFLAGS=-mod=mod")
	if t.Toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+t.Toolchain)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", t.Package, t.Version, err)
	}
	return p, nil
}
