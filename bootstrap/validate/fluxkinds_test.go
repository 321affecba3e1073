package validate

import (
	"context"
	"os"
	"strings"
	"testing"
)

// fluxKinds is testdata/fluxkinds.yaml.
var fluxKinds = func() string {
	data, err := os.ReadFile("testdata/fluxkinds.yaml")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

func checkFluxKinds(t *testing.T, stream string) []string {
	t.Helper()
	fs := testChecker(t).Check(context.Background(), "ephemeral/pr-1", objects(t, "flux.yaml", stream), nil)
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func TestEveryFluxKindValidates(t *testing.T) {
	if fs := checkFluxKinds(t, fluxKinds); len(fs) != 0 {
		t.Errorf("want no findings, got:\n%s", strings.Join(fs, "\n"))
	}
}

func TestFluxKindReferences(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, object, field, message string
	}{
		{"Alert to a missing Provider", "providerRef: {name: slack}", "providerRef: {name: slackk}",
			"Alert/flux-system/on-call", "spec.providerRef", "Provider flux-system/slackk does not exist"},
		{"Alert to a missing event source", "    - kind: GitRepository\n      name: app\n    - kind: Kustomization", "    - kind: GitRepository\n      name: ap\n    - kind: Kustomization",
			"Alert/flux-system/on-call", "spec.eventSources[0]", "GitRepository flux-system/ap does not exist"},
		{"Receiver to a missing resource", "  resources:\n    - kind: GitRepository\n      name: app", "  resources:\n    - kind: GitRepository\n      name: app\n      namespace: apps",
			"Receiver/flux-system/github", "spec.resources[0]", "GitRepository apps/app does not exist"},
		{"Receiver to a missing Secret", "secretRef: {name: webhook-token}", "secretRef: {name: webhook}",
			"Receiver/flux-system/github", "spec.secretRef", "Secret flux-system/webhook does not exist"},
		{"Provider to a missing Secret", "secretRef: {name: slack-url}", "secretRef: {name: slack}",
			"Provider/flux-system/slack", "spec.secretRef", "Secret flux-system/slack does not exist"},
		{"ImagePolicy to a missing ImageRepository", "imageRepositoryRef: {name: app}", "imageRepositoryRef: {name: app, namespace: images}",
			"ImagePolicy/flux-system/app", "spec.imageRepositoryRef", "ImageRepository images/app does not exist"},
		{"ImageUpdateAutomation to a missing GitRepository", "sourceRef: {kind: GitRepository, name: app}", "sourceRef: {kind: GitRepository, name: apps}",
			"ImageUpdateAutomation/flux-system/app", "spec.sourceRef", "GitRepository flux-system/apps does not exist"},
		{"ArtifactGenerator to a missing source", "      kind: GitRepository\n      name: app\n  artifacts", "      kind: OCIRepository\n      name: app\n  artifacts",
			"ArtifactGenerator/flux-system/bundle", "spec.sources[0]", "OCIRepository flux-system/app does not exist"},
		{"Kustomization to an artifact no generator declares", "sourceRef: {kind: ExternalArtifact, name: app}", "sourceRef: {kind: ExternalArtifact, name: apps}",
			"Kustomization/flux-system/bundle", "spec.sourceRef", "ExternalArtifact flux-system/apps does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(fluxKinds, tc.old) != 1 {
				t.Fatalf("%q occurs %d times", tc.old, strings.Count(fluxKinds, tc.old))
			}
			fs := testChecker(t).Check(context.Background(), "ephemeral/pr-1", objects(t, "flux.yaml", strings.Replace(fluxKinds, tc.old, tc.new, 1)), nil)
			if len(fs) != 1 {
				t.Fatalf("want one finding, got:\n%s", join(fs))
			}
			f := fs[0]
			if f.File != "flux.yaml" || f.Line == 0 || f.Object != tc.object || f.Field != tc.field || !strings.Contains(f.Message, tc.message) {
				t.Errorf("finding %s, want %s %s %q", f, tc.object, tc.field, tc.message)
			}
		})
	}
}
