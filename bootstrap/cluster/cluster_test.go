package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestStateDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"override", map[string]string{StateDirEnv: "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s"},
		{"xdg", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/gitops-local"},
		{"relative xdg is ignored", map[string]string{"XDG_STATE_HOME": "x", "HOME": "/h"}, "/h/.local/state/gitops-local"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.local/state/gitops-local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StateDir(env(tc.env))
			if err != nil || got != tc.want {
				t.Errorf("StateDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWriteKubeconfigIsPrivateAndAtomic(t *testing.T) {
	path := KubeconfigPath(t.TempDir(), "dev")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// An older file readable by everyone is replaced by a private one.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteKubeconfig(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	di, _ := os.Stat(filepath.Dir(path))
	if string(got) != "new" || fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("kubeconfig %q mode %v in folder mode %v, want \"new\", 0600, 0700", got, fi.Mode().Perm(), di.Mode().Perm())
	}
	left, _ := os.ReadDir(filepath.Dir(path))
	if len(left) != 1 {
		t.Errorf("folder holds %d entries, want only the kubeconfig (no temporary files)", len(left))
	}

	removed, err := RemoveKubeconfig(path)
	if err != nil || removed != path {
		t.Fatalf("RemoveKubeconfig = %q, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty cluster folder left behind: %v", err)
	}
	if removed, err := RemoveKubeconfig(path); err != nil || removed != "" {
		t.Errorf("removing a missing kubeconfig = %q, %v; want \"\", nil", removed, err)
	}
}

func TestPorts(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPortFree(p); err != nil {
		t.Errorf("free port %d reported busy: %v", p, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if err := CheckPortFree(busy); err == nil || !strings.Contains(err.Error(), "--port") {
		t.Errorf("busy port: error = %v, want advice to pick another --port", err)
	}
	if err := CheckPortFree(0); err == nil {
		t.Error("port 0 accepted")
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"gitops-local": true, "a": true, "dev2": true,
		"": false, "-a": false, "a-": false, "A": false, "a.b": false, strings.Repeat("a", 33): false,
	} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestExisting(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: ctx
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := &Existing{Kubeconfig: kc, Registry: "127.0.0.1:5000", URL: "http://127.0.0.1:8080/"}
	c, err := e.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Name: "ctx", Provider: "existing", Kubeconfig: kc, RegistryPush: "127.0.0.1:5000", RegistryPull: "127.0.0.1:5000", URL: "http://127.0.0.1:8080/"}
	if *c != want {
		t.Errorf("cluster = %+v, want %+v", *c, want)
	}
	if _, err := e.Delete(ctx); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Delete = %v, want ErrUnsupported: an existing cluster is never deleted", err)
	}
	for _, bad := range []*Existing{{Registry: "r"}, {Kubeconfig: kc}, {Kubeconfig: kc + ".missing", Registry: "r"}} {
		if err := bad.Preflight(ctx); err == nil {
			t.Errorf("Preflight(%+v) passed", bad)
		}
	}
}
