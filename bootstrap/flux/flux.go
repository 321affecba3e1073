// Package flux installs Flux at the pinned versions from manifests embedded in
// the binary, and knows the objects that make it up.
package flux

//go:generate go run ./internal/manifestgen/gen -o manifests/flux.yaml

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

//go:embed manifests/flux.yaml
var manifestYAML []byte

// Namespace is where Flux is installed.
const Namespace = "flux-system"

// ManifestYAML returns the embedded install manifests as one YAML stream.
func ManifestYAML() []byte { return bytes.Clone(manifestYAML) }

// Manifests returns the embedded install manifests as objects, in the order
// they are written (namespace and RBAC, then each controller's CRDs,
// ServiceAccount, Service and Deployment).
func Manifests() ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifestYAML), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decoding embedded flux manifests: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
}
