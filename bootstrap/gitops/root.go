package gitops

import (
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Where up pushes this repository for the cluster's root source: the
// repository and tag in the cluster's registry.
const (
	ArtifactRepo = "gitops-local/repository"
	ArtifactTag  = "local"
)

// Root is what bootstrap leaves in a cluster for an environment of this
// repository, as `flux bootstrap` leaves it in the cloud: the cluster-vars
// ConfigMap every Kustomization substitutes from, the OCIRepository serving
// the repository, and the Kustomization applying overlays/<env>. up creates
// exactly these, and the offline build starts from the same Kustomization
// and reads the same ConfigMap: the one definition of the root.
type Root struct {
	Vars          *corev1.ConfigMap
	Source        *sourcev1.OCIRepository
	Kustomization *kustomizev1.Kustomization
}

// RootObjects returns the root of environment env, its source in registry
// (host:port as the cluster reaches it) and its variables vars.
func RootObjects(env, registry string, vars map[string]string) Root {
	return Root{
		Vars: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: VarsConfigMap, Namespace: FluxNamespace},
			Data:       vars,
		},
		Source: &sourcev1.OCIRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
			ObjectMeta: metav1.ObjectMeta{Name: RootName, Namespace: FluxNamespace},
			Spec: sourcev1.OCIRepositorySpec{
				URL:       "oci://" + registry + "/" + ArtifactRepo,
				Reference: &sourcev1.OCIRepositoryRef{Tag: ArtifactTag},
				Interval:  metav1.Duration{Duration: 10 * time.Minute},
				Insecure:  true,
			},
		},
		Kustomization: &kustomizev1.Kustomization{
			TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
			ObjectMeta: metav1.ObjectMeta{Name: RootName, Namespace: FluxNamespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:  metav1.Duration{Duration: 10 * time.Minute},
				Path:      "./" + OverlaysDir + "/" + env,
				Prune:     true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: RootSourceKind, Name: RootName},
			},
		},
	}
}

// Objects returns the root's objects, ready to apply: the ConfigMap, the
// source, the Kustomization.
func (r Root) Objects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range []runtime.Object{r.Vars, r.Source, r.Kustomization} {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// toUnstructured converts a typed object to what is applied: no status, no
// empty creationTimestamp.
func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", o, err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}
