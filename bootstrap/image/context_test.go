package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

const (
	repoRoot    = "../.."
	fakeGhillie = "testdata/ghillie"
)

// member is one tar entry as read back.
type member struct {
	hdr  tar.Header
	body string
}

// buildContext runs Context and returns its bytes.
func buildContext(t *testing.T, repo, app string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Context(context.Background(), &buf, repo, app); err != nil {
		t.Fatalf("Context(%q, %q): %v", repo, app, err)
	}
	return buf.Bytes()
}

// readContext lists the members of a tar stream, in order.
func readContext(t *testing.T, data []byte) ([]string, map[string]member) {
	t.Helper()
	var names []string
	members := map[string]member{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, members
		}
		if err != nil {
			t.Fatalf("reading context: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", hdr.Name, err)
		}
		names = append(names, hdr.Name)
		members[hdr.Name] = member{hdr: *hdr, body: string(body)}
	}
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	testutil.CopyTree(t, src, dst)
}

// writeFile creates a file and its parent directories under root.
func writeFile(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeCheckout copies the fake Ghillie checkout to a temporary directory, so
// a test can add to it.
func fakeCheckout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, fakeGhillie, dir)
	return dir
}

func TestContextJoinsCheckoutAndRepository(t *testing.T) {
	names, members := readContext(t, buildContext(t, repoRoot, fakeGhillie))

	want := []string{
		"Dockerfile",
		"README.md",
		"docker/",
		"docker/README.md",
		"docker/entrypoint.sh",
		"ghillie/",
		"ghillie/__init__.py",
		"ghillie/runtime.py",
		"pyproject.toml",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("context entries:\n got %q\nwant %q", names, want)
	}

	for _, name := range names {
		h := members[name].hdr
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: header not normalised: mtime %v uid %d gid %d uname %q gname %q",
				name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
	}
	if m := members["docker/entrypoint.sh"].hdr.Mode; m != 0o755 {
		t.Errorf("docker/entrypoint.sh mode = %o, want 755 (it is the image's ENTRYPOINT)", m)
	}
	if m := members["pyproject.toml"].hdr.Mode; m != 0o644 {
		t.Errorf("pyproject.toml mode = %o, want 644", m)
	}
	if m := members["ghillie/"].hdr; m.Typeflag != tar.TypeDir || m.Mode != 0o755 {
		t.Errorf("ghillie/ = type %c mode %o, want a directory with mode 755", m.Typeflag, m.Mode)
	}

	ep := members["docker/entrypoint.sh"].body
	if !strings.HasPrefix(ep, "#!/bin/sh\n") || !strings.Contains(ep, "\nset -e\n") ||
		!strings.Contains(ep, "\nexec \"$@\"\n") {
		t.Errorf("docker/entrypoint.sh should be a #!/bin/sh script with set -e and exec \"$@\", got:\n%s", ep)
	}
	onDisk, err := os.ReadFile(filepath.Join(fakeGhillie, "ghillie", "runtime.py"))
	if err != nil {
		t.Fatal(err)
	}
	if got := members["ghillie/runtime.py"].body; got != string(onDisk) {
		t.Errorf("ghillie/runtime.py content differs from the checkout's")
	}
}

func TestContextIsDeterministic(t *testing.T) {
	app := fakeCheckout(t)
	first := buildContext(t, repoRoot, app)

	// Different times and permissions on disk must not change the bytes.
	for _, rel := range []string{"pyproject.toml", "ghillie/runtime.py"} {
		p := filepath.Join(app, filepath.FromSlash(rel))
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, epoch.AddDate(20, 0, 0), epoch.AddDate(21, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	second := buildContext(t, repoRoot, app)
	if !bytes.Equal(first, second) {
		t.Fatalf("two builds of the same inputs differ (%d and %d bytes)", len(first), len(second))
	}
	if third := buildContext(t, repoRoot, fakeGhillie); !bytes.Equal(first, third) {
		t.Fatalf("a copy of the checkout gives different bytes from the original (%d and %d)",
			len(first), len(third))
	}
}

func TestContextSkipsCachesAndTakesOnlyWhatTheDockerfileNeeds(t *testing.T) {
	app := fakeCheckout(t)
	for _, rel := range []string{
		".git/HEAD",
		".venv/bin/python",
		"ghillie/__pycache__/runtime.cpython-314.pyc",
		"ghillie/stale.pyc",
		"ghillie/node_modules/x/index.js",
		"ghillie/.git",
		"node_modules/x/index.js",
		"Dockerfile",
		"docker/entrypoint.sh",
		"tests/test_runtime.py",
		".env",
	} {
		writeFile(t, app, rel, "not for the image\n")
	}
	writeFile(t, app, "ghillie/sub/module.py", "X = 1\n")

	names, members := readContext(t, buildContext(t, repoRoot, app))
	for _, name := range names {
		for _, bad := range []string{".git", ".venv", "__pycache__", "node_modules", ".pyc", "tests/", ".env"} {
			if strings.Contains(name, bad) {
				t.Errorf("context holds %s, which should be skipped", name)
			}
		}
	}
	if _, ok := members["ghillie/sub/module.py"]; !ok {
		t.Errorf("context lacks ghillie/sub/module.py; entries: %q", names)
	}
	if strings.Contains(members["Dockerfile"].body, "not for the image") ||
		strings.Contains(members["docker/entrypoint.sh"].body, "not for the image") {
		t.Errorf("the checkout's own Dockerfile or docker/ replaced this repository's")
	}
}

func TestContextRejectsNonGhillieDirectory(t *testing.T) {
	tests := []struct {
		name    string
		remove  string // file removed from a copy of the fake checkout
		missing string // name the error must give
	}{
		{"no pyproject", "pyproject.toml", "pyproject.toml"},
		{"no readme", "README.md", "README.md"},
		{"no package", "ghillie", "ghillie/__init__.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fakeCheckout(t)
			if err := os.RemoveAll(filepath.Join(app, tt.remove)); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			err := Context(context.Background(), &buf, repoRoot, app)
			if err == nil {
				t.Fatal("Context accepted a directory that is not a Ghillie checkout")
			}
			msg := err.Error()
			if !strings.Contains(msg, "not a Ghillie checkout") || !strings.Contains(msg, tt.missing+" is missing") {
				t.Errorf("error %q should say it is not a Ghillie checkout and name %s", msg, tt.missing)
			}
			if buf.Len() != 0 {
				t.Errorf("Context wrote %d bytes before failing", buf.Len())
			}
		})
	}

	t.Run("empty directory", func(t *testing.T) {
		err := Context(context.Background(), io.Discard, repoRoot, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "pyproject.toml is missing") {
			t.Fatalf("got %v, want an error naming pyproject.toml", err)
		}
	})
	t.Run("no such directory", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		err := Context(context.Background(), io.Discard, repoRoot, missing)
		if err == nil || !strings.Contains(err.Error(), "app source") || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want a not-exist error about the app source", err)
		}
	})
	t.Run("repository without Dockerfile", func(t *testing.T) {
		err := Context(context.Background(), io.Discard, t.TempDir(), fakeGhillie)
		if err == nil || !strings.Contains(err.Error(), "Dockerfile is missing") {
			t.Fatalf("got %v, want an error naming the Dockerfile", err)
		}
	})
}

func TestContextSymlinks(t *testing.T) {
	t.Run("inside the tree is followed", func(t *testing.T) {
		app := fakeCheckout(t)
		writeFile(t, app, "docs/README.md", "# real readme\n")
		if err := os.Remove(filepath.Join(app, "README.md")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("docs", "README.md"), filepath.Join(app, "README.md")); err != nil {
			t.Skipf("cannot create symbolic links here: %v", err)
		}
		writeFile(t, app, "shared/util.py", "Y = 2\n")
		if err := os.Symlink(filepath.Join("..", "shared"), filepath.Join(app, "ghillie", "shared")); err != nil {
			t.Fatal(err)
		}

		_, members := readContext(t, buildContext(t, repoRoot, app))
		if m := members["README.md"]; m.hdr.Typeflag != tar.TypeReg || m.body != "# real readme\n" {
			t.Errorf("README.md = type %c %q, want the linked file's content", m.hdr.Typeflag, m.body)
		}
		if m := members["ghillie/shared/util.py"]; m.body != "Y = 2\n" {
			t.Errorf("ghillie/shared/util.py = %q, want the linked directory's file", m.body)
		}
	})

	t.Run("escaping the tree is refused", func(t *testing.T) {
		app := fakeCheckout(t)
		outside := filepath.Join(t.TempDir(), "secret.py")
		if err := os.WriteFile(outside, []byte("TOKEN = 'x'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(app, "ghillie", "secret.py")
		if err := os.Symlink(outside, link); err != nil {
			t.Skipf("cannot create symbolic links here: %v", err)
		}
		var buf bytes.Buffer
		err := Context(context.Background(), &buf, repoRoot, app)
		if err == nil || !strings.Contains(err.Error(), "points outside") || !strings.Contains(err.Error(), link) {
			t.Fatalf("got %v, want an error naming %s as pointing outside the checkout", err, link)
		}
		if buf.Len() != 0 {
			t.Errorf("Context wrote %d bytes before refusing", buf.Len())
		}
	})

	t.Run("relative escape is refused", func(t *testing.T) {
		app := fakeCheckout(t)
		if err := os.Symlink(filepath.Join("..", "..", ".."), filepath.Join(app, "ghillie", "up")); err != nil {
			t.Skipf("cannot create symbolic links here: %v", err)
		}
		err := Context(context.Background(), io.Discard, repoRoot, app)
		if err == nil || !strings.Contains(err.Error(), "points outside") {
			t.Fatalf("got %v, want the escaping link refused", err)
		}
	})

	t.Run("a loop is refused", func(t *testing.T) {
		app := fakeCheckout(t)
		if err := os.Symlink("..", filepath.Join(app, "ghillie", "loop")); err != nil {
			t.Skipf("cannot create symbolic links here: %v", err)
		}
		err := Context(context.Background(), io.Discard, repoRoot, app)
		if err == nil || !strings.Contains(err.Error(), "loop") {
			t.Fatalf("got %v, want a symbolic link loop error", err)
		}
	})
}

func TestContextStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Context(ctx, io.Discard, repoRoot, fakeGhillie)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
