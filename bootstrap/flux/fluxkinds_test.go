package flux_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/validate"
)

func decodeObjects(t *testing.T, stream string) []manifest.Object {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var out []manifest.Object
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			out = append(out, manifest.Object{Unstructured: u, Origin: manifest.Origin{File: "fluxkinds.yaml", Line: 1}})
		}
	}
}

// TestFluxKindsAgreeWithAPIServer proves that the CRDs `up` installs for
// the Flux kinds whose controllers it does not run are the schemas validate
// checks against: every object of validate's clean example is accepted by
// a real API server (server-side dry run), and an Alert validate rejects
// for a missing required field is rejected there too.
func TestFluxKindsAgreeWithAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Start(ctx, t, testenv.WithoutFlux())
	c := testenv.Client(t, env)
	if _, err := flux.Install(ctx, c, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../validate/testdata/fluxkinds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checker, err := validate.NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	clean := decodeObjects(t, string(data))
	if fs := checker.Check(ctx, "ephemeral/pr-1", clean, nil); len(fs) != 0 {
		t.Fatalf("validate finds problems in its clean example: %v", fs)
	}
	for _, o := range clean {
		if err := c.Create(ctx, o.Unstructured.DeepCopy(), client.DryRunAll); err != nil {
			t.Errorf("%s: the API server refuses what validate finds clean: %v", o.Ref(), err)
		}
	}

	broken := decodeObjects(t, string(bytes.Replace(data, []byte("  providerRef: {name: slack}\n"), nil, 1)))
	fs := checker.Check(ctx, "ephemeral/pr-1", broken, nil)
	if len(fs) != 1 || fs[0].Object != "Alert/flux-system/on-call" || fs[0].Field != "spec.providerRef" {
		t.Fatalf("validate: want one finding on spec.providerRef, got %v", fs)
	}
	for _, o := range broken {
		if o.GetKind() != "Alert" {
			continue
		}
		if err := c.Create(ctx, o.Unstructured, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "providerRef") {
			t.Errorf("the API server accepts the Alert validate rejects: %v", err)
		}
	}
}
