package gitops

import (
	"testing"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// With spec.chart.spec.reconcileStrategy Revision, source-controller
// v1.9.6 puts the first 12 characters of the source's revision hash in a
// GitRepository chart's version, before the HelmChart's generation that
// values files add (helmchart_controller.go buildFromTarballArtifact).
func TestRevisionStrategyPutsTheSourceRevisionInTheChartVersion(t *testing.T) {
	root := copyDir(t, cases+"/helm-git-chart/repo")
	testutil.Edit(t, root, "apps/release.yaml", "      valuesFiles:", "      reconcileStrategy: Revision\n      valuesFiles:")
	src := SourceRef{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system"}
	revisions := map[SourceRef]string{src: "main@sha1:0123456789abcdef0123456789abcdef01234567"}
	label := func(opts Options) string {
		t.Helper()
		env := buildPath(t, root, "clusters/test", opts)
		if len(env.Findings) > 0 {
			t.Fatalf("findings: %v", env.Findings)
		}
		return findRef(t, env, "Deployment/helm-git-target/web-prod").GetLabels()["helm.sh/chart"]
	}
	if got := label(Options{Revisions: revisions}); got != "web-1.2.3_0123456789ab.1" {
		t.Errorf("helm.sh/chart = %q, want web-1.2.3_0123456789ab.1 (the revision, then the generation)", got)
	}
	// A revision the build is not given leaves the version as values
	// files make it.
	if got := label(Options{}); got != "web-1.2.3_1" {
		t.Errorf("helm.sh/chart = %q without the source's revision, want web-1.2.3_1", got)
	}
	testutil.Edit(t, root, "apps/release.yaml", "      valuesFiles:\n        - ./charts/web/values.yaml\n        - ./charts/web/values-prod.yaml\n", "")
	if got := label(Options{Revisions: revisions}); got != "web-1.2.3_0123456789ab" {
		t.Errorf("helm.sh/chart = %q without values files, want web-1.2.3_0123456789ab", got)
	}
}

// revisionMetadata follows fluxcd/pkg/git ExtractHashFromRevision for a
// GitRepository and the digest's hex for a Bucket.
func TestRevisionMetadata(t *testing.T) {
	for _, tc := range []struct{ kind, rev, want string }{
		{"GitRepository", "main@sha1:0123456789abcdef0123", "0123456789ab"},
		{"GitRepository", "sha256:fedcba9876543210fedc", "fedcba987654"},
		{"GitRepository", "main/0123456789abcdef", "0123456789ab"},
		{"GitRepository", "0123456789abcdef", "0123456789ab"},
		{"Bucket", "sha256:aabbccddeeff00112233", "aabbccddeeff"},
	} {
		if got, ok := revisionMetadata(tc.kind, tc.rev); !ok || got != tc.want {
			t.Errorf("revisionMetadata(%s, %s) = %q, %v; want %q", tc.kind, tc.rev, got, ok, tc.want)
		}
	}
	if _, ok := revisionMetadata("GitRepository", "main@sha1:0123"); ok {
		t.Error("a hash shorter than 12 characters cannot be cut to 12: want not ok")
	}
}
