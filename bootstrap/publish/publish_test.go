package publish

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
)

// startRegistry runs a real OCI registry in process on loopback.
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newTree(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"gitops/apps/ghillie/kustomization.yaml": "resources: []\n",
		"overlays/local/kustomization.yaml":      "resources: []\n",
		"charts/ghillie/Chart.yaml":              "apiVersion: v2\nname: ghillie\nversion: 0.1.0\n",
		"README.md":                              "not part of the artifact\n",
	})
	return root
}

func TestTreePushesSkipsAndRepushes(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	p, err := New(reg, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	root := newTree(t)

	first, err := p.Tree(ctx, root, "gitops-local/repo", "local")
	if err != nil {
		t.Fatal(err)
	}
	if first.Skipped || first.Digest == "" {
		t.Fatalf("first push skipped or without digest: %+v", first)
	}
	if first.Revision != first.ContentDigest {
		t.Errorf("outside git the revision is the content digest: %+v", first)
	}

	// What the cluster pulls is exactly the three folders.
	out := t.TempDir()
	client := oci.NewClient([]crane.Option{crane.Insecure})
	meta, err := client.Pull(ctx, strings.TrimPrefix(first.URL, "oci://"), out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gitops/apps/ghillie/kustomization.yaml", "overlays/local/kustomization.yaml", "charts/ghillie/Chart.yaml"} {
		if _, err := os.Stat(filepath.Join(out, want)); err != nil {
			t.Errorf("pulled artifact lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "README.md")); err == nil {
		t.Errorf("pulled artifact holds README.md, which is outside the GitOps folders")
	}
	if meta.Revision != first.Revision || meta.Annotations[ContentDigestAnnotation] != first.ContentDigest {
		t.Errorf("metadata = %+v, want revision %q and content digest %q", meta, first.Revision, first.ContentDigest)
	}

	// Unchanged content: nothing pushed, same digest reported.
	again, err := p.Tree(ctx, root, "gitops-local/repo", "local")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Skipped || again.Digest != first.Digest {
		t.Errorf("unchanged push = %+v, want skipped with digest %s", again, first.Digest)
	}

	// File times alone do not count as a change.
	later := filepath.Join(root, "overlays/local/kustomization.yaml")
	if err := os.Chtimes(later, first2000(), first2000()); err != nil {
		t.Fatal(err)
	}
	if a, _ := p.Tree(ctx, root, "gitops-local/repo", "local"); !a.Skipped {
		t.Errorf("a touched file was pushed again: %+v", a)
	}

	// A changed overlay is pushed.
	writeTree(t, root, map[string]string{"overlays/local/kustomization.yaml": "resources: [a.yaml]\n"})
	changed, err := p.Tree(ctx, root, "gitops-local/repo", "local")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Skipped || changed.Digest == first.Digest || changed.ContentDigest == first.ContentDigest {
		t.Errorf("changed push = %+v, want a new artifact", changed)
	}
}

func TestRevisionFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	root := newTree(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.email=t@example.invalid", "-c", "user.name=t"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-qm", "tree")
	commit := run("rev-parse", "HEAD")

	const digest = "sha256:0123456789abcdef0123"
	rev, err := Revision(ctx, root, digest)
	if err != nil {
		t.Fatal(err)
	}
	if want := "main@sha1:" + commit; rev != want {
		t.Errorf("clean revision = %q, want %q", rev, want)
	}

	// A change outside the GitOps folders leaves the revision clean.
	writeTree(t, root, map[string]string{"README.md": "edited\n"})
	if rev, _ := Revision(ctx, root, digest); strings.Contains(rev, "dirty") {
		t.Errorf("README edit made the revision dirty: %q", rev)
	}

	writeTree(t, root, map[string]string{"overlays/local/patch.yaml": "x: 1\n"})
	rev, err = Revision(ctx, root, digest)
	if err != nil {
		t.Fatal(err)
	}
	if want := "main@sha1:" + commit + "+dirty.0123456789ab"; rev != want {
		t.Errorf("dirty revision = %q, want %q", rev, want)
	}
}

func TestUnreachableRegistry(t *testing.T) {
	// A loopback port with nothing listening.
	srv := httptest.NewServer(nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	p, err := New(addr, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Tree(context.Background(), newTree(t), "gitops-local/repo", "local")
	if err == nil || !strings.Contains(err.Error(), "registry "+addr+" not reachable") {
		t.Fatalf("error = %v, want it to say the registry is not reachable", err)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New("oci://127.0.0.1:5000"); err == nil {
		t.Error("a URL was accepted as a registry address")
	}
	p, _ := New("127.0.0.1:1", WithInsecure())
	_, err := p.Tree(context.Background(), t.TempDir(), "r", "t")
	if err == nil || !strings.Contains(err.Error(), "gitops") {
		t.Errorf("a folder without gitops/ gave %v", err)
	}
	root := newTree(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "charts", "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tree(context.Background(), root, "r", "t"); err == nil || !strings.Contains(err.Error(), "charts/link is a symbolic link") {
		t.Errorf("symlink gave %v", err)
	}
}

func first2000() time.Time { return time.Unix(946684800, 0) }
