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
		{"registry without kubeconfig", nil, []string{"up", "--registry", "127.0.0.1:5000"}, "--registry is for an existing cluster given with --kubeconfig"},
		{"url without kubeconfig", nil, []string{"up", "--url", "http://127.0.0.1:1/"}, "--url is for an existing cluster"},
		{"no app image on k3d", nil, []string{"up"}, "no app image: pass --app-src DIR"},
		{"two app images", nil, []string{"up", "--app-src", ".", "--image", "ghillie:sha-1"}, "[app-src image] were all set"},
		{"image with an existing cluster", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "r:1", "--image", "ghillie:sha-1"}, "are for a k3d cluster"},
		{"port with an existing cluster", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "r:1", "--port", "8080"}, "--port and --merge-kubeconfig are for a k3d cluster"},
		{"merge with an existing cluster", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "r:1", "--merge-kubeconfig"}, "--port and --merge-kubeconfig are for a k3d cluster"},
		{"bad cluster name", nil, []string{"up", "--cluster", "My_Cluster", "--skip-build"}, `invalid cluster name "My_Cluster"`},
		{"no registry", nil, []string{"up", "--kubeconfig", "/nonexistent"}, "no registry given"},
		{"bad timeout", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "127.0.0.1:5000", "--timeout", "0s"}, "invalid --timeout 0s"},
		{"unreadable kubeconfig", nil, []string{"up", "--kubeconfig", "/nonexistent/kubeconfig", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "reading kubeconfig /nonexistent/kubeconfig"},
		{"kubeconfig from the environment", map[string]string{"GITOPS_LOCAL_KUBECONFIG": "/nonexistent/kc"}, []string{"up", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "reading kubeconfig /nonexistent/kc"},
		{"arguments", nil, []string{"up", "extra"}, `unknown command "extra"`},
		{"sync with a registry but no kubeconfig", nil, []string{"sync", "--registry", "127.0.0.1:5000"}, "--registry is for an existing cluster"},
		{"sync without a registry", nil, []string{"sync", "--kubeconfig", "/nonexistent"}, "no registry given"},
		{"watch with a registry but no kubeconfig", nil, []string{"watch", "--registry", "127.0.0.1:5000", "--repo", "../../.."}, "--registry is for an existing cluster"},
		{"registry with a space", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "a b:5000"}, `invalid --registry: "a b:5000"`},
		{"registry port out of range", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", ":99999"}, `invalid --registry: ":99999"`},
		{"registry that is a flag", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "-x"}, `invalid --registry: "-x"`},
		{"registry in cluster without port", nil, []string{"sync", "--kubeconfig", "/nonexistent", "--registry", "127.0.0.1:5000", "--registry-in-cluster", "registry"}, `invalid --registry-in-cluster: "registry"`},
		{"watch registry port 0", nil, []string{"watch", "--kubeconfig", "/nonexistent", "--registry", "127.0.0.1:0", "--repo", "../../.."}, `invalid --registry: "127.0.0.1:0"`},
		{"bad url", nil, []string{"up", "--kubeconfig", "/nonexistent", "--registry", "127.0.0.1:5000", "--url", "http://127.0.0.1:99999/"}, "invalid --url"},
		{"bad port", nil, []string{"up", "--port", "70000", "--skip-build"}, "invalid --port: port 70000"},
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
	r := run(t, nil, "status", "--kubeconfig", "/nonexistent/kc")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "reading kubeconfig /nonexistent/kc") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
