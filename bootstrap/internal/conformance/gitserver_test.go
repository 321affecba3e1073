package conformance

import (
	"context"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitServer serves bare repositories over Git's smart HTTP protocol on
// loopback, through `git http-backend` (the CGI program Git ships for
// this), so that source-controller fetches a GitRepository the way it
// fetches one from any Git host.
type gitServer struct {
	root string // the bare repositories, NAME.git
	addr string // host:port on 127.0.0.1
}

func startGitServer(t *testing.T) *gitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed to serve the cases' repositories: %v", err)
	}
	root := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  append(gitEnv(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1"),
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &gitServer{root: root, addr: ln.Addr().String()}
}

// gitEnv keeps the user's and the system's Git configuration out.
func gitEnv() []string {
	return []string{"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1", "HOME=" + os.TempDir()}
}

// publish commits the folder dir on branch main and serves it as
// NAME.git, replacing what was served under that name before. It returns
// the revision source-controller reports for it, main@sha1:<commit>.
func (s *gitServer) publish(ctx context.Context, t *testing.T, name, dir string) string {
	t.Helper()
	work := t.TempDir()
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), gitEnv()...)
		cmd.Env = append(cmd.Env, "GIT_AUTHOR_NAME=conformance", "GIT_AUTHOR_EMAIL=conformance@127.0.0.1",
			"GIT_COMMITTER_NAME=conformance", "GIT_COMMITTER_EMAIL=conformance@127.0.0.1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(work, "init", "-q", "-b", "main", "repo")
	repo := filepath.Join(work, "repo")
	if err := os.CopyFS(repo, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	run(repo, "add", "-A")
	run(repo, "commit", "-q", "-m", "case")
	bare := filepath.Join(s.root, name+".git")
	if err := os.RemoveAll(bare); err != nil {
		t.Fatal(err)
	}
	run(work, "clone", "-q", "--bare", repo, bare)
	return "main@sha1:" + run(repo, "rev-parse", "HEAD")
}

// url is where the cluster fetches NAME from.
func (s *gitServer) url(name string) string {
	return "http://" + s.addr + "/" + name + ".git"
}
