package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installKwokCRDs creates kwok's Logs and ClusterLogs CRDs, copied from its
// module at build time, and waits until they are established, before kwok
// starts watching them.
func (e *Env) installKwokCRDs(ctx context.Context) error {
	return e.installCRDs(ctx, "kwok")
}

// installFluxCRDs creates the Flux controllers' CRDs, copied from their
// modules' config/crd/bases at build time, and waits until all are
// established.
func (e *Env) installFluxCRDs(ctx context.Context) error {
	return e.installCRDs(ctx, "source-controller", "kustomize-controller", "helm-controller")
}

// installCRDs creates the CRDs copied into each component's crds folder and
// waits until all are established.
func (e *Env) installCRDs(ctx context.Context, components ...string) error {
	dc, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("installing the CRDs of %v: %w", components, err)
	}
	var names []string
	for _, c := range components {
		files, err := filepath.Glob(e.tools.Path(c, "crds", "*.yaml"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("%s: no CRDs in %s: run `go run ./hack/testcluster build`", c, e.tools.Path(c, "crds"))
		}
		for _, f := range files {
			objs, err := readObjects(f)
			if err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				if _, err := dc.Resource(crdGVR).Create(ctx, o, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("%s: creating CRD %s: %w", c, o.GetName(), err)
				}
				names = append(names, o.GetName())
			}
		}
	}
	for _, n := range names {
		if err := waitEstablished(ctx, dc, n); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, dc dynamic.Interface, name string) error {
	for {
		u, err := dc.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w (last error: %v)", name, context.Cause(ctx), err)
		case <-timeAfter():
		}
	}
}

// readObjects decodes every object of a multi-document YAML file.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}
