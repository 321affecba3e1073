package diff

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Warning is a change Kubernetes refuses to make in place, or one that
// loses data: the reviewer must know that applying it needs the object
// deleted and recreated, or deletes what cannot be had back.
type Warning struct {
	// Field is the field whose change is refused; empty for a deletion.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// immutable are the fields the API server refuses to change on an
// existing object, per kind ("group/Kind"), as its validation declares
// them (k8s.io/kubernetes pkg/apis/apps/validation ValidateDeploymentUpdate,
// ValidateStatefulSetUpdate; pkg/apis/batch/validation ValidateJobUpdate;
// pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate,
// ValidateServiceUpdate).
var immutable = map[string][]string{
	"apps/Deployment":        {"spec.selector"},
	"apps/ReplicaSet":        {"spec.selector"},
	"apps/DaemonSet":         {"spec.selector"},
	"apps/StatefulSet":       {"spec.selector", "spec.volumeClaimTemplates"},
	"batch/Job":              {"spec.selector", "spec.template"},
	"/PersistentVolumeClaim": {"spec.storageClassName"},
	"/Service":               {"spec.clusterIP", "spec.clusterIPs"},
}

// precious are the kinds whose deletion loses data: volumes, databases,
// caches, namespaces (everything in them) and CRDs (every custom
// resource of them).
var precious = map[string]string{
	"/PersistentVolumeClaim":                        "its volume's data",
	"postgresql.cnpg.io/Cluster":                    "the database and its volumes",
	"hyperspike.io/Valkey":                          "the cache's data",
	"/Namespace":                                    "every object in it",
	"apiextensions.k8s.io/CustomResourceDefinition": "every custom resource of it",
}

// changeWarnings returns the warnings of a change from a to b with the
// given changed fields.
func changeWarnings(a, b manifest.Object, fields []FieldChange) []Warning {
	kind := groupKind(a)
	var out []Warning
	for _, root := range immutable[kind] {
		for _, f := range fields {
			if f.Path != root && !strings.HasPrefix(f.Path, root+".") && !strings.HasPrefix(f.Path, root+"[") {
				continue
			}
			if kind == "/Service" && (f.From == nil || f.From == "") {
				// Setting clusterIP where none was given is what the API
				// server does anyway: only changing one is refused.
				continue
			}
			out = append(out, Warning{Field: root, Message: fmt.Sprintf("%s is immutable: Kubernetes refuses the change; the %s must be deleted and recreated", root, a.GetKind())})
			break
		}
	}
	if kind == "/PersistentVolumeClaim" {
		from, _, _ := unstructuredString(a, "spec", "resources", "requests", "storage")
		to, _, _ := unstructuredString(b, "spec", "resources", "requests", "storage")
		if qa, err := resource.ParseQuantity(from); err == nil {
			if qb, err := resource.ParseQuantity(to); err == nil && qb.Cmp(qa) < 0 {
				out = append(out, Warning{Field: "spec.resources.requests.storage", Message: fmt.Sprintf("storage shrinks from %s to %s: Kubernetes refuses to shrink a volume claim", from, to)})
			}
		}
	}
	return out
}

// deleteWarnings returns the warnings of deleting o, which the
// Kustomization applying it prunes when prune says so.
func deleteWarnings(o manifest.Object, prune bool) []Warning {
	what, ok := precious[groupKind(o)]
	if !ok || !prune {
		return nil
	}
	owner := o.Origin.Kustomization
	if owner == "" {
		owner = "the root Kustomization"
	} else {
		owner = "Kustomization " + owner
	}
	return []Warning{{Message: fmt.Sprintf("deleted with prune: true by %s: loses %s", owner, what)}}
}

func groupKind(o manifest.Object) string {
	gvk := o.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind
}

func unstructuredString(o manifest.Object, path ...string) (string, bool, error) {
	v, ok, err := nestedValue(o.Object, path...)
	if !ok || err != nil {
		return "", ok, err
	}
	return fmt.Sprint(v), true, nil
}

func nestedValue(m map[string]any, path ...string) (any, bool, error) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		if cur, ok = mm[p]; !ok {
			return nil, false, nil
		}
	}
	return cur, true, nil
}

// pruning returns, for the objects of one side, whether the Flux
// Kustomization named "namespace/name" prunes what it no longer applies.
// The environment's root ("") prunes, as gitops-local and flux bootstrap
// create it.
func pruning(objs []manifest.Object) map[string]bool {
	out := map[string]bool{"": true}
	for _, o := range objs {
		if o.Unstructured == nil || groupKind(o) != "kustomize.toolkit.fluxcd.io/Kustomization" {
			continue
		}
		v, _, _ := nestedValue(o.Object, "spec", "prune")
		p, _ := v.(bool)
		out[o.GetNamespace()+"/"+o.GetName()] = p
	}
	return out
}
