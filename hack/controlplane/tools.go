package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// ToolsDirEnv overrides where the control-plane binaries are cached.
const ToolsDirEnv = "GITOPS_LOCAL_TOOLS_DIR"

// Component is one wrapper module under hack/tools and what it produces: its
// binaries, and files copied out of the module it pins (CRDs, kwok stages).
type Component struct {
	// Name is the wrapper module's directory under hack/tools.
	Name string
	// Version is the pinned version from bootstrap/versions.
	Version string
	// Binaries are the commands built, named after their package's last
	// path element.
	Binaries []string
	// Packages are the packages built, relative to the wrapper module.
	Packages []string
	// LDFlags are passed to go build.
	LDFlags string
	// Files are copied from a module's source into the cache directory.
	Files []FileCopy
}

// FileCopy copies files from a module in the module cache into a folder of the
// component's cache directory.
type FileCopy struct {
	// Module is the module path, resolved by the wrapper module.
	Module string
	// From are paths relative to the module root: files, or folders whose
	// *.yaml files are copied.
	From []string
	// To is the destination folder, relative to the component directory.
	To string
}

// Components lists what the test control plane runs, built from the Go
// module proxy at the versions in bootstrap/versions.
func Components() []Component {
	k8sLDFlags := fmt.Sprintf("-X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=%s -X k8s.io/component-base/version.gitMinor=%s",
		versions.Kubernetes, k8sMajor(), k8sMinor())
	return []Component{
		{Name: "etcd", Version: versions.Etcd, Binaries: []string{"etcd"}, Packages: []string{"."}},
		{
			Name: "kubernetes", Version: versions.Kubernetes,
			Binaries: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"},
			Packages: []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes/cmd/kube-scheduler"},
			LDFlags:  k8sLDFlags,
		},
		{
			Name: "kwok", Version: versions.Kwok, Binaries: []string{"kwok"}, Packages: []string{"sigs.k8s.io/kwok/cmd/kwok"},
			Files: []FileCopy{{Module: "sigs.k8s.io/kwok", To: "stages", From: []string{
				"kustomize/stage/node/fast/node-initialize.yaml",
				"kustomize/stage/node/heartbeat/node-heartbeat.yaml",
				"kustomize/stage/pod/fast/pod-ready.yaml",
				"kustomize/stage/pod/fast/pod-complete.yaml",
				"kustomize/stage/pod/fast/pod-delete.yaml",
			}}, {Module: "sigs.k8s.io/kwok", To: "crds", From: []string{
				// Logs and ClusterLogs tell kwok's kubelet server which
				// file to serve as a fake container's log.
				"kustomize/crd/bases/kwok.x-k8s.io_logs.yaml",
				"kustomize/crd/bases/kwok.x-k8s.io_clusterlogs.yaml",
			}}},
		},
		fluxComponent("source-controller", versions.SourceController),
		fluxComponent("kustomize-controller", versions.KustomizeController),
		fluxComponent("helm-controller", versions.HelmController),
	}
}

func fluxComponent(name, version string) Component {
	return Component{
		Name: name, Version: version, Binaries: []string{name}, Packages: []string{"github.com/fluxcd/" + name},
		Files: []FileCopy{{Module: "github.com/fluxcd/" + name, From: []string{"config/crd/bases"}, To: "crds"}},
	}
}

func k8sMajor() string {
	return strings.SplitN(strings.TrimPrefix(versions.Kubernetes, "v"), ".", 3)[0]
}
func k8sMinor() string {
	return strings.SplitN(strings.TrimPrefix(versions.Kubernetes, "v"), ".", 3)[1]
}

// Dir is the component's cache directory under root, keyed by version.
func (c Component) Dir(root string) string { return filepath.Join(root, c.Name+"-"+c.Version) }

// Missing reports whether any binary or copied folder is absent under root.
func (c Component) Missing(root string) bool {
	for _, b := range c.Binaries {
		if !isFile(filepath.Join(c.Dir(root), b)) {
			return true
		}
	}
	for _, f := range c.Files {
		if _, err := os.Stat(filepath.Join(c.Dir(root), f.To)); err != nil {
			return true
		}
	}
	return false
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// ToolsDir is where binaries are cached: $GITOPS_LOCAL_TOOLS_DIR, or
// gitops-local/bin in the user cache directory.
func ToolsDir() (string, error) {
	if d := os.Getenv(ToolsDirEnv); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the tools cache: %w (set %s)", err, ToolsDirEnv)
	}
	return filepath.Join(d, "gitops-local", "bin"), nil
}

// Tools locates the built binaries and files of the test control plane.
type Tools struct{ Root string }

// FindTools returns the tools under root ("" for ToolsDir), or an error of
// type *MissingError naming what is not built. With names, only those
// components are required.
func FindTools(root string, names ...string) (Tools, error) {
	if root == "" {
		var err error
		if root, err = ToolsDir(); err != nil {
			return Tools{}, err
		}
	}
	var missing []string
	for _, c := range Components() {
		if len(names) > 0 && !slices.Contains(names, c.Name) {
			continue
		}
		if c.Missing(root) {
			missing = append(missing, c.Name+"@"+c.Version)
		}
	}
	if len(missing) > 0 {
		return Tools{}, &MissingError{Root: root, Components: missing}
	}
	return Tools{Root: root}, nil
}

// MissingError says which control-plane components are not built.
type MissingError struct {
	Root       string
	Components []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("control-plane binaries missing in %s: %s: run `go run ./hack/testcluster build` (a cold build takes about 30 minutes)",
		e.Root, strings.Join(e.Components, ", "))
}

// Bin is the path of a built binary, such as "kube-apiserver".
func (t Tools) Bin(name string) string {
	for _, c := range Components() {
		for _, b := range c.Binaries {
			if b == name {
				return filepath.Join(c.Dir(t.Root), b)
			}
		}
	}
	return filepath.Join(t.Root, "unknown-binary-"+name)
}

// Path is a file or folder of a component's cache directory.
func (t Tools) Path(component string, elem ...string) string {
	for _, c := range Components() {
		if c.Name == component {
			return filepath.Join(append([]string{c.Dir(t.Root)}, elem...)...)
		}
	}
	return filepath.Join(t.Root, "unknown-component-"+component)
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Root is the cache directory; "" means ToolsDir().
	Root string
	// HackTools is the hack/tools folder holding the wrapper modules; ""
	// means found from the working directory upwards.
	HackTools string
	// Log receives progress and the go command's output; nil discards.
	Log io.Writer
	// Components limits the build to these component names; empty builds
	// every missing one.
	Components []string
}

// Build builds every missing component, one after another (each build uses
// every core), and does nothing for those already built.
func Build(ctx context.Context, opts BuildOptions) error {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Root == "" {
		var err error
		if opts.Root, err = ToolsDir(); err != nil {
			return err
		}
	}
	if opts.HackTools == "" {
		var err error
		if opts.HackTools, err = FindHackTools(); err != nil {
			return err
		}
	}
	for _, c := range Components() {
		if len(opts.Components) > 0 && !slices.Contains(opts.Components, c.Name) {
			continue
		}
		if !c.Missing(opts.Root) {
			fmt.Fprintf(opts.Log, "%s %s: present in %s\n", c.Name, c.Version, c.Dir(opts.Root))
			continue
		}
		start := time.Now()
		fmt.Fprintf(opts.Log, "%s %s: building into %s...\n", c.Name, c.Version, c.Dir(opts.Root))
		if err := buildComponent(ctx, c, opts); err != nil {
			return err
		}
		fmt.Fprintf(opts.Log, "%s %s: done in %s\n", c.Name, c.Version, time.Since(start).Round(time.Second))
	}
	return nil
}

func buildComponent(ctx context.Context, c Component, opts BuildOptions) error {
	modDir := filepath.Join(opts.HackTools, c.Name)
	dst := c.Dir(opts.Root)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("building %s: %w", c.Name, err)
	}
	tmp, err := os.MkdirTemp(dst, ".build-")
	if err != nil {
		return fmt.Errorf("building %s: %w", c.Name, err)
	}
	defer os.RemoveAll(tmp)

	var missingBin bool
	for _, b := range c.Binaries {
		missingBin = missingBin || !isFile(filepath.Join(dst, b))
	}
	if missingBin {
		args := []string{"build", "-trimpath"}
		if c.LDFlags != "" {
			args = append(args, "-ldflags", c.LDFlags)
		}
		args = append(args, "-o", tmp+string(filepath.Separator))
		args = append(args, c.Packages...)
		if _, err := goCmd(ctx, modDir, opts.Log, args...); err != nil {
			return fmt.Errorf("building %s %s in %s: %w", c.Name, c.Version, modDir, err)
		}
		for _, b := range c.Binaries {
			if err := os.Rename(filepath.Join(tmp, b), filepath.Join(dst, b)); err != nil {
				return fmt.Errorf("installing %s: %w", b, err)
			}
		}
	}
	for _, f := range c.Files {
		if _, err := os.Stat(filepath.Join(dst, f.To)); err == nil {
			continue
		}
		if err := copyModuleFiles(ctx, modDir, f, filepath.Join(tmp, f.To), opts.Log); err != nil {
			return fmt.Errorf("copying %s files of %s: %w", f.To, f.Module, err)
		}
		if err := os.Rename(filepath.Join(tmp, f.To), filepath.Join(dst, f.To)); err != nil {
			return fmt.Errorf("installing %s files of %s: %w", f.To, f.Module, err)
		}
	}
	return nil
}

// copyModuleFiles copies f.From out of the module f.Module, as resolved by the
// wrapper module in modDir, into dst.
func copyModuleFiles(ctx context.Context, modDir string, f FileCopy, dst string, log io.Writer) error {
	out, err := goCmd(ctx, modDir, log, "list", "-m", "-f", "{{.Dir}}", f.Module)
	if err != nil {
		return err
	}
	src := strings.TrimSpace(out)
	if src == "" {
		return fmt.Errorf("module %s is not in the module cache: run go mod download in %s", f.Module, modDir)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, from := range f.From {
		p := filepath.Join(src, filepath.FromSlash(from))
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		files := []string{p}
		if fi.IsDir() {
			if files, err = filepath.Glob(filepath.Join(p, "*.yaml")); err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no YAML files in %s", p)
			}
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(file)), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func goCmd(ctx context.Context, dir string, log io.Writer, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, log)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	return stdout.String(), nil
}

// FindHackTools finds hack/tools from the working directory upwards.
func FindHackTools() (string, error) {
	root, err := FindRepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "hack", "tools"), nil
}

// FindRepoRoot finds the repository root (the folder holding
// hack/tools/etcd/go.mod) from the working directory upwards.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "hack", "tools", "etcd", "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/tools not found above the working directory: run this from the gitops-local checkout")
		}
		dir = parent
	}
}
