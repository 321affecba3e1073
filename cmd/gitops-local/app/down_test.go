package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/cluster"
)

// noDocker points the Docker client at a socket nothing listens on, so
// that these tests behave the same on machines with and without Docker.
func noDocker(t *testing.T) map[string]string {
	t.Helper()
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "docker.sock"))
	return map[string]string{cluster.StateDirEnv: t.TempDir()}
}

// TestWithoutDockerNothingIsCreated is up on a machine without a Docker
// engine: it stops at the first check, says why, exits 2 and leaves
// nothing behind.
func TestWithoutDockerNothingIsCreated(t *testing.T) {
	env := noDocker(t)
	r := run(t, env, "up", "--skip-build", "-o", "json")
	if r.code != ExitFailure {
		t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "no Docker engine answers at unix://") || !strings.Contains(r.stderr, "--kubeconfig and --registry") {
		t.Errorf("stderr %q does not say that Docker is missing and what to do instead", r.stderr)
	}
	var sum struct {
		Steps []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("-o json output: %v\n%s", err, r.stdout)
	}
	if len(sum.Steps) < 3 || sum.Steps[0].Status != "failed" {
		t.Fatalf("steps = %+v, want the Docker check failed first", sum.Steps)
	}
	for _, s := range sum.Steps[1:] {
		if s.Status != "not started" {
			t.Errorf("step %q %s after the Docker check failed", s.Name, s.Status)
		}
	}
	if left, _ := os.ReadDir(env[cluster.StateDirEnv]); len(left) != 0 {
		t.Errorf("state folder holds %d entries after a failed preflight", len(left))
	}

	for _, args := range [][]string{{"status"}, {"sync"}, {"logs"}, {"down", "--yes"}} {
		r := run(t, env, args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "no Docker engine answers") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and no Docker engine", args, r.code, r.stderr)
		}
	}
}

// fakeDown stands in for the k3d provider, which needs Docker.
type fakeDown struct {
	exists  bool
	deleted bool
	kc      string
	// what is the cluster's description; a healthy cluster's by default.
	what string
}

func (f *fakeDown) Describe(context.Context) (string, error) {
	if !f.exists {
		return "", nil
	}
	if f.what != "" {
		return f.what, nil
	}
	return fmt.Sprintf("k3d cluster %q with its registry (127.0.0.1:5055) and kubeconfig %s", "dev", f.kc), nil
}

func (f *fakeDown) Delete(context.Context) (cluster.Removed, error) {
	f.deleted = true
	f.exists = false
	return cluster.Removed{Cluster: "dev", Nodes: []string{"k3d-dev-server-0", "k3d-dev-serverlb"}, Registry: "k3d-dev-registry", Kubeconfig: f.kc}, nil
}

func withFakeDown(t *testing.T, f *fakeDown, terminal bool) {
	t.Helper()
	oldP, oldT := newDownProvider, isTerminal
	newDownProvider = func(*globalOptions) (downProvider, error) { return f, nil }
	isTerminal = func(io.Reader) bool { return terminal }
	t.Cleanup(func() { newDownProvider, isTerminal = oldP, oldT })
}

func runIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, args,
		func(string) (string, bool) { return "", false })
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestDown(t *testing.T) {
	for _, tc := range []struct {
		name        string
		exists      bool
		what        string
		terminal    bool
		stdin       string
		args        []string
		wantCode    int
		wantDeleted bool
		wantStderr  []string
	}{
		{name: "no terminal, no --yes: refused", exists: true, args: []string{"down"}, wantCode: ExitFailure,
			wantStderr: []string{`refusing to delete k3d cluster "dev"`, "pass --yes"}},
		{name: "--yes", exists: true, args: []string{"down", "--yes"}, wantCode: ExitOK, wantDeleted: true,
			wantStderr: []string{"deleted k3d cluster dev (nodes k3d-dev-server-0, k3d-dev-serverlb)", "deleted registry k3d-dev-registry", "removed kubeconfig /state/dev/kubeconfig"}},
		{name: "terminal, answered no", exists: true, terminal: true, stdin: "n\n", args: []string{"down"}, wantCode: ExitFindings,
			wantStderr: []string{`Delete k3d cluster "dev" with its registry (127.0.0.1:5055) and kubeconfig /state/dev/kubeconfig? [y/N]`, "nothing was deleted"}},
		{name: "terminal, just Enter", exists: true, terminal: true, stdin: "\n", args: []string{"down"}, wantCode: ExitFindings},
		{name: "terminal, answered yes", exists: true, terminal: true, stdin: "yes\n", args: []string{"down"}, wantCode: ExitOK, wantDeleted: true},
		{name: "broken cluster, confirmed", exists: true, what: `k3d cluster "dev" (stopped, no loopback port for its ingress) without a registry`,
			terminal: true, stdin: "y\n", args: []string{"down"}, wantCode: ExitOK, wantDeleted: true,
			wantStderr: []string{`Delete k3d cluster "dev" (stopped, no loopback port for its ingress) without a registry? [y/N]`, "deleted k3d cluster dev"}},
		{name: "missing cluster", args: []string{"down"}, wantCode: ExitOK, wantStderr: []string{`k3d cluster "dev" does not exist: nothing to delete`}},
		{name: "existing cluster is never deleted", exists: true, args: []string{"down", "--yes", "--kubeconfig", "/k/config"}, wantCode: ExitFailure,
			wantStderr: []string{"was not created by gitops-local"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDown{exists: tc.exists, kc: "/state/dev/kubeconfig", what: tc.what}
			withFakeDown(t, f, tc.terminal)
			r := runIn(t, tc.stdin, append(tc.args, "--cluster", "dev")...)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.wantCode, r.stderr)
			}
			if f.deleted != tc.wantDeleted {
				t.Errorf("deleted = %v, want %v", f.deleted, tc.wantDeleted)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
		})
	}
}

func TestDownJSON(t *testing.T) {
	f := &fakeDown{exists: true, kc: "/state/dev/kubeconfig"}
	withFakeDown(t, f, false)
	r := runIn(t, "", "down", "--yes", "-o", "json")
	var removed cluster.Removed
	if err := json.Unmarshal([]byte(r.stdout), &removed); err != nil {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	if removed.Cluster != "dev" || removed.Registry != "k3d-dev-registry" || removed.Kubeconfig != "/state/dev/kubeconfig" {
		t.Errorf("removed = %+v", removed)
	}
}

func TestUserKubeconfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KUBECONFIG": "/a/config" + string(filepath.ListSeparator) + "/b/config", "HOME": "/h"}, "/a/config"},
		{map[string]string{"KUBECONFIG": "", "HOME": "/h"}, "/h/.kube/config"},
		{map[string]string{"HOME": "/h"}, "/h/.kube/config"},
		{map[string]string{}, ""},
	} {
		if got := userKubeconfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }); got != tc.want {
			t.Errorf("userKubeconfig(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}
