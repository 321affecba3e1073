package gitops

import "testing"

// TestReleaseNameAsHelmController uses helm-controller v1.6.4's
// internal/release/name_test.go vectors.
func TestReleaseNameAsHelmController(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"{}", "web"},
		{"{targetNamespace: prod}", "prod-web"},
		{"{releaseName: release-name-with-very-long-name-which-is-longer-than-53-characters}", "release-name-with-very-long-name-which-i-788ca0d0d7b0"},
		{"{releaseName: another-release-name-with-very-long-name-which-is-longer-than-53-characters, targetNamespace: x}", "another-release-name-with-very-long-name-7e72150d5a36"},
	} {
		hr := parseObjects(t, "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: app}\nspec: "+tc.spec+"\n")[0]
		if got := releaseName(hr); got != tc.want {
			t.Errorf("spec %s: release name %q, want %q", tc.spec, got, tc.want)
		}
	}
}
