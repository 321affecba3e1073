package image

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/cli/cli/config"
)

// dockerConfigWithContext writes a docker configuration folder whose
// current context is name, with its endpoint host in the contexts' meta
// store, as `docker context create` and `docker context use` leave them
// (docker/cli v28.5.0 cli/context/store/metadatastore.go: the folder is
// contexts/meta/<sha256 of the name>/meta.json) and as Colima, OrbStack
// and Rancher Desktop set them up.
func dockerConfigWithContext(t *testing.T, name, host string) string {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"`+name+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNewClientFollowsTheCurrentDockerContext: with Colima or OrbStack the
// engine is where the current docker context says, not at the default
// socket, and DOCKER_HOST still wins over the context, as in the docker
// CLI (docker/cli v28.5.0 cli/command/cli.go resolveContextName) and k3d
// (v5.8.3 pkg/runtimes/docker/util.go GetDockerClient).
func TestNewClientFollowsTheCurrentDockerContext(t *testing.T) {
	const colima = "unix:///home/dev/.colima/default/docker.sock"
	dir := dockerConfigWithContext(t, "colima", colima)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_HOST", "")
	// The docker CLI reads DOCKER_CONFIG once per process; point it there.
	config.SetDir(dir)

	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DaemonHost(); got != colima {
		t.Errorf("with current context colima the client talks to %q, want %q", got, colima)
	}

	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	c, err = NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DaemonHost(); got != "tcp://127.0.0.1:2375" {
		t.Errorf("with DOCKER_HOST set the client talks to %q, want DOCKER_HOST", got)
	}

	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "missing")
	if _, err := NewClient(); err == nil {
		t.Error("a DOCKER_CONTEXT that does not exist was accepted; the docker CLI refuses it")
	}
}
