package app

import (
	"strings"
	"testing"
)

func TestUpRejectsMissingInput(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no cluster", nil, []string{"up", "--registry", "127.0.0.1:5000"}, "no cluster given: pass --kubeconfig"},
		{"no registry", nil, []string{"up", "--kubeconfig", "/nonexistent"}, "no registry given"},
		{"bad timeout", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "127.0.0.1:5000", "--timeout", "0s"}, "invalid --timeout 0s"},
		{"unreadable kubeconfig", nil, []string{"up", "--kubeconfig", "/nonexistent/kubeconfig", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "reading kubeconfig /nonexistent/kubeconfig"},
		{"kubeconfig from the environment", map[string]string{"GITOPS_LOCAL_KUBECONFIG": "/nonexistent/kc"}, []string{"up", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "reading kubeconfig /nonexistent/kc"},
		{"arguments", nil, []string{"up", "extra"}, `unknown command "extra"`},
		{"sync without a cluster", nil, []string{"sync", "--registry", "127.0.0.1:5000"}, "no cluster given: pass --kubeconfig"},
		{"sync without a registry", nil, []string{"sync", "--kubeconfig", "/nonexistent"}, "no registry given"},
		{"watch without a cluster", nil, []string{"watch", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "no cluster given: pass --kubeconfig"},
		{"watch with a bad kubeconfig", nil, []string{"watch", "--kubeconfig", "/nonexistent/kc", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "reading kubeconfig /nonexistent/kc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != ExitFailure || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestStatusRejectsMissingInput(t *testing.T) {
	r := run(t, nil, "status")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no cluster given") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, nil, "status", "--kubeconfig", "/nonexistent/kc")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "reading kubeconfig /nonexistent/kc") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
