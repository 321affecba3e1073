package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogsRejectsBadInput(t *testing.T) {
	// A cluster that refuses connections, on loopback.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unreadable kubeconfig", []string{"logs", "--kubeconfig", "/nonexistent/kc"}, "reading kubeconfig /nonexistent/kc"},
		{"container with flux", []string{"logs", "--kubeconfig", kc, "--flux", "--container", "app"}, "does not combine with --flux"},
		{"tail 0", []string{"logs", "--kubeconfig", kc, "--tail", "0"}, "invalid --tail 0"},
		{"tail -2", []string{"logs", "--kubeconfig", kc, "--tail", "-2"}, "invalid --tail -2"},
		{"negative since", []string{"logs", "--kubeconfig", kc, "--since", "-5m"}, "invalid --since -5m0s"},
		{"bad since", []string{"logs", "--kubeconfig", kc, "--since", "soon"}, `invalid argument "soon" for "--since"`},
		{"arguments", []string{"logs", "--kubeconfig", kc, "ghillie"}, `unknown command "ghillie"`},
		{"unreachable cluster", []string{"logs", "--kubeconfig", kc}, "listing pods labelled app.kubernetes.io/name=ghillie in namespace ghillie"},
		{"unreachable cluster, flux", []string{"logs", "--kubeconfig", kc, "--flux"}, "127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, no output and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}
