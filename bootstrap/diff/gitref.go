package diff

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RunError is a git command that failed, with what it printed.
type RunError struct {
	Command string
	Output  string
	Err     error
}

func (e *RunError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Command, e.Err, out)
}

func (e *RunError) Unwrap() error { return e.Err }

// git runs git in repo and returns its standard output.
func git(ctx context.Context, repo string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &RunError{Command: "git " + strings.Join(args, " "), Output: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// Materialize writes the folders paths of repo's tree at ref (the whole
// tree when paths is nil; else those of them ref has, at least one) into a
// new temporary folder and returns it with a function that removes it. The
// working tree and index of repo are not touched.
func Materialize(ctx context.Context, repo, ref string, paths []string) (dir string, cleanup func() error, err error) {
	if strings.HasPrefix(ref, "-") {
		return "", nil, fmt.Errorf("invalid git ref %q", ref)
	}
	commit, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return "", nil, missingRef(ctx, repo, ref, err)
	}
	rev := strings.TrimSpace(string(commit))
	if paths != nil {
		listing, err := git(ctx, repo, "ls-tree", "--name-only", rev)
		if err != nil {
			return "", nil, fmt.Errorf("listing %s: %w", ref, err)
		}
		present := map[string]bool{}
		for _, name := range strings.Split(string(listing), "\n") {
			present[name] = true
		}
		var have []string
		for _, p := range paths {
			if present[p] {
				have = append(have, p)
			}
		}
		if len(have) == 0 {
			return "", nil, fmt.Errorf("%s has none of %s", ref, strings.Join(paths, ", "))
		}
		paths = have
	}
	dir, err = os.MkdirTemp("", "gitops-local-base-")
	if err != nil {
		return "", nil, fmt.Errorf("creating a folder for %s: %w", ref, err)
	}
	cleanup = func() error { return os.RemoveAll(dir) }
	archive, err := git(ctx, repo, append([]string{"archive", "--format=tar", rev, "--"}, paths...)...)
	if err == nil {
		err = untar(bytes.NewReader(archive), dir)
	}
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("extracting %s: %w", ref, err), cleanup())
	}
	return dir, cleanup, nil
}

// ErrNoRef is wrapped by the error of a base ref the repository does not
// have.
var ErrNoRef = errors.New("no such git ref")

// missingRef explains, on one line, a ref that does not resolve: in a
// shallow clone the commit is most likely beyond its depth, and fetching
// it is the fix; otherwise the ref does not exist.
func missingRef(ctx context.Context, repo, ref string, err error) error {
	var run *RunError
	if !errors.As(err, &run) {
		return fmt.Errorf("resolving %q: %w", ref, err)
	}
	out, serr := git(ctx, repo, "rev-parse", "--is-shallow-repository")
	if serr != nil {
		return fmt.Errorf("%s is not a git repository that git can read: diff --base compares with a commit of it", repo)
	}
	if strings.TrimSpace(string(out)) == "true" {
		return fmt.Errorf("%w: %q is not in this shallow clone: fetch it, e.g. git fetch --depth=50 origin %s (or git fetch --unshallow)", ErrNoRef, ref, ref)
	}
	return fmt.Errorf("%w: %q is not a branch, tag or commit of %s (git fetch it first if it is a remote one)", ErrNoRef, ref, repo)
}

// untar extracts regular files, folders and symbolic links from r into dir,
// refusing any entry that would land outside it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		name := filepath.FromSlash(strings.TrimSuffix(h.Name, "/"))
		if name == "" || name == "." {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
		case tar.TypeReg:
			if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(name), err)
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("linking %s: %w", name, err)
			}
		}
	}
}
