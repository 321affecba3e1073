// Package image prepares the Ghillie container image build.
//
// Ghillie's sources live in a separate checkout, while the Dockerfile and its
// entrypoint script live in this repository. Context joins the two into one
// build context, written as a tar stream that can be handed to the Docker
// Engine API as is.
package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DockerfilePath is where the Dockerfile sits in the context Context writes,
// as a Docker build request names it.
const DockerfilePath = "Dockerfile"

// appPaths are the paths taken from a Ghillie checkout: what the Dockerfile
// COPYs, and nothing else, so the checkout's own Dockerfile, tests and local
// files (.env and the like) stay out of the build.
var appPaths = []string{"pyproject.toml", "README.md", "ghillie"}

// repoPaths are the paths taken from this repository.
var repoPaths = []string{DockerfilePath, "docker"}

// appRequired are the files whose absence means a directory is not a Ghillie
// checkout.
var appRequired = []string{"pyproject.toml", "README.md", "ghillie/__init__.py"}

// repoRequired are the files the Dockerfile needs from this repository.
var repoRequired = []string{DockerfilePath, "docker/entrypoint.sh"}

// epoch is the modification time of every entry. It is fixed so the same
// inputs give the same bytes, and later than 1980 because zip, and so wheel
// building, cannot store earlier times.
var epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// skippedDirs are names never put in the context, at any depth.
var skippedDirs = map[string]bool{
	".git":         true,
	"__pycache__":  true,
	".venv":        true,
	"node_modules": true,
}

// entry is one file or directory of the context.
type entry struct {
	name   string // slash-separated path inside the context
	source string // file on disk, symbolic links resolved
	dir    bool
	mode   int64
	size   int64
}

// Context writes a tar build context joining the Ghillie checkout at appSrc
// (pyproject.toml, README.md and the ghillie/ package, which is what the
// Dockerfile COPYs) with this repository's Dockerfile and docker/ folder
// (from repoRoot), to w.
//
// It fails with an error naming the missing file when appSrc is not a Ghillie
// checkout or repoRoot lacks the Dockerfile or its entrypoint. The output is
// deterministic: entries are sorted by name and carry a fixed time, owner
// root and mode 0644 (0755 for directories and executables). .git,
// __pycache__, .venv, node_modules and *.pyc are left out. Symbolic links are
// followed when they resolve inside the tree they belong to (appSrc or
// repoRoot) and refused otherwise. Every path is checked before anything is
// written, so a refused tree leaves w untouched.
func Context(ctx context.Context, w io.Writer, repoRoot, appSrc string) error {
	entries, err := collect(ctx, repoRoot, appSrc)
	if err != nil {
		return err
	}
	return write(ctx, w, entries)
}

// collect opens both trees and returns the entries of the context Context
// writes, sorted by name. It does every check that can refuse the inputs,
// so that writing the entries can fail only on reading a file.
func collect(ctx context.Context, repoRoot, appSrc string) ([]entry, error) {
	app, err := openTree("app source", appSrc, "a Ghillie checkout", appRequired)
	if err != nil {
		return nil, err
	}
	repo, err := openTree("repository root", repoRoot, "the gitops-local repository", repoRequired)
	if err != nil {
		return nil, err
	}

	var entries []entry
	for _, t := range []struct {
		root  string
		paths []string
	}{{app, appPaths}, {repo, repoPaths}} {
		c := collector{ctx: ctx, root: t.root, ancestors: map[string]bool{}}
		for _, p := range t.paths {
			if err := c.add(p, filepath.Join(t.root, filepath.FromSlash(p))); err != nil {
				return nil, err
			}
		}
		entries = append(entries, c.entries...)
	}

	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	for i := 1; i < len(entries); i++ {
		if entries[i].name == entries[i-1].name {
			return nil, fmt.Errorf("build context: %s appears twice (from %s and %s)",
				entries[i].name, entries[i-1].source, entries[i].source)
		}
	}
	return entries, nil
}

// openTree resolves root to an absolute path with symbolic links evaluated
// and checks that the required files are present; what and kind only word
// the errors.
func openTree(what, root, kind string, required []string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, root, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %q is not a directory", what, root)
	}
	for _, r := range required {
		if _, err := os.Stat(filepath.Join(real, filepath.FromSlash(r))); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s %q is not %s: %s is missing", what, root, kind, r)
			}
			return "", fmt.Errorf("%s %q: %w", what, root, err)
		}
	}
	return real, nil
}

// collector walks one tree and records its entries.
type collector struct {
	ctx       context.Context
	root      string          // real path of the tree; links may not leave it
	ancestors map[string]bool // real paths of the directories being walked
	entries   []entry
}

// add records the file or directory at file under the context name.
func (c *collector) add(name, file string) error {
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	fi, err := os.Lstat(file)
	if err != nil {
		return fmt.Errorf("build context: %s: %w", name, err)
	}
	source := file
	if fi.Mode()&fs.ModeSymlink != 0 {
		if source, err = filepath.EvalSymlinks(file); err != nil {
			return fmt.Errorf("build context: symbolic link %s: %w", file, err)
		}
		if !within(c.root, source) {
			return fmt.Errorf("build context: symbolic link %s points outside %s (to %s): replace it with the file it points to",
				file, c.root, source)
		}
		if fi, err = os.Stat(source); err != nil {
			return fmt.Errorf("build context: symbolic link %s: %w", file, err)
		}
	}

	switch {
	case fi.IsDir():
		return c.addDir(name, source)
	case fi.Mode().IsRegular():
		mode := int64(0o644)
		if fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
		c.entries = append(c.entries, entry{name: name, source: source, mode: mode, size: fi.Size()})
		return nil
	default:
		return fmt.Errorf("build context: %s is a %s, not a file or directory", file, fi.Mode().Type())
	}
}

// addDir records the directory dir and, in name order, what it holds.
func (c *collector) addDir(name, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("build context: %s: %w", dir, err)
	}
	if c.ancestors[real] {
		return fmt.Errorf("build context: %s leads back into %s: symbolic link loop", dir, real)
	}
	c.ancestors[real] = true
	defer delete(c.ancestors, real)

	c.entries = append(c.entries, entry{name: name, source: dir, dir: true, mode: 0o755})
	children, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	for _, child := range children {
		if skipped(child) {
			continue
		}
		if err := c.add(path.Join(name, child.Name()), filepath.Join(dir, child.Name())); err != nil {
			return err
		}
	}
	return nil
}

// skipped reports whether a directory entry stays out of the context. The
// directory names are matched whatever the entry is, since .git may be a file
// (worktrees, submodules) and .venv a symbolic link.
func skipped(d fs.DirEntry) bool {
	if skippedDirs[d.Name()] {
		return true
	}
	return !d.IsDir() && strings.HasSuffix(d.Name(), ".pyc")
}

// within reports whether p is root or lies beneath it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// write streams entries as a tar archive with normalised headers.
func write(ctx context.Context, w io.Writer, entries []entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: epoch,
		}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("build context: write %s: %w", e.name, err)
		}
		if !e.dir {
			if err := copyFile(tw, e); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build context: finish archive: %w", err)
	}
	return nil
}

// copyFile writes exactly e.size bytes of e's file to w.
func copyFile(w io.Writer, e entry) error {
	f, err := os.Open(e.source)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, e.size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("build context: %s shrank while being read: try again", e.source)
		}
		return fmt.Errorf("build context: copy %s: %w", e.source, err)
	}
	return nil
}
