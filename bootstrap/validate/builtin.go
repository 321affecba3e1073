package validate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Strict decoding proves field names and types but not the values the API
// server accepts. The API server's own validation lives in k8s.io/kubernetes,
// which cannot be imported, so the enumerations that matter for what this
// repository deploys are checked here, with the API server's messages.

// pathSegmentNames are the kinds whose names only need to be valid path
// segments (RBAC), not DNS subdomains.
var pathSegmentNames = map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true}

// checkMetadata checks the name, namespace and labels as the API server
// would.
func checkMetadata(fb findingFunc, obj manifest.Object) []manifest.Finding {
	var out []manifest.Finding
	name := obj.GetName()
	switch {
	case name == "" && obj.GetGenerateName() == "":
		out = append(out, fb("metadata.name", "Required value: name or generateName is required"))
	case name != "" && !pathSegmentNames[obj.GetKind()]:
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			out = append(out, fb("metadata.name", fmt.Sprintf("Invalid value: %q: %s", name, msg)))
		}
	}
	if ns := obj.GetNamespace(); ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			out = append(out, fb("metadata.namespace", fmt.Sprintf("Invalid value: %q: %s", ns, msg)))
		}
	}
	for _, e := range metav1validation.ValidateLabels(obj.GetLabels(), field.NewPath("metadata", "labels")) {
		out = append(out, fieldErrorFinding(fb, e))
	}
	return out
}

// podSpecPath is where a workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// container is one container of a pod spec with its field path.
type container struct {
	path string
	spec map[string]any
}

// podContainers returns the pod spec of a built-in workload, its path, and
// every container (init, app and ephemeral) in it.
func podContainers(obj manifest.Object) (podSpec map[string]any, path string, cs []container) {
	p, ok := podSpecPath[obj.GetKind()]
	if !ok || !isBuiltin(obj.GroupVersionKind()) {
		return nil, "", nil
	}
	spec, found, err := unstructured.NestedMap(obj.Object, p...)
	if !found || err != nil {
		return nil, "", nil
	}
	path = strings.Join(p, ".")
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		items, _ := spec[list].([]any)
		for i, item := range items {
			c, ok := item.(map[string]any)
			if !ok {
				continue
			}
			cs = append(cs, container{path: fmt.Sprintf("%s.%s[%d]", path, list, i), spec: c})
		}
	}
	return spec, path, cs
}

// checkBuiltinEnums checks the enumerated values of the built-in kinds this
// repository deploys.
func checkBuiltinEnums(fb findingFunc, obj manifest.Object) []manifest.Finding {
	var out []manifest.Finding
	enum := func(path string, v any, required bool, allowed ...string) {
		s, isString := v.(string)
		if v == nil || (isString && s == "") {
			if required {
				out = append(out, fb(path, fmt.Sprintf("Required value: supported values: %s", quoteAll(allowed))))
			}
			return
		}
		for _, a := range allowed {
			if s == a {
				return
			}
		}
		out = append(out, fb(path, fmt.Sprintf("Unsupported value: %s: supported values: %s", compactJSON(v), quoteAll(allowed))))
	}
	gk := obj.GroupVersionKind().GroupKind()
	switch {
	case gk.Group == "networking.k8s.io" && gk.Kind == "Ingress":
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
		for i, r := range rules {
			rule, _ := r.(map[string]any)
			paths, _, _ := unstructured.NestedSlice(rule, "http", "paths")
			for j, p := range paths {
				pm, _ := p.(map[string]any)
				base := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
				enum(base+".pathType", pm["pathType"], true, "Exact", "ImplementationSpecific", "Prefix")
				if pt, _ := pm["pathType"].(string); pt == "Exact" || pt == "Prefix" {
					if path, _ := pm["path"].(string); !strings.HasPrefix(path, "/") {
						out = append(out, fb(base+".path", fmt.Sprintf("Invalid value: %q: must be an absolute path", path)))
					}
				}
			}
		}
	case gk.Group == "" && gk.Kind == "Service":
		spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
		enum("spec.type", spec["type"], false, "ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
		ports, _ := spec["ports"].([]any)
		for i, p := range ports {
			pm, _ := p.(map[string]any)
			enum(fmt.Sprintf("spec.ports[%d].protocol", i), pm["protocol"], false, "SCTP", "TCP", "UDP")
		}
	case gk.Group == "apps" && gk.Kind == "Deployment":
		t, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "strategy", "type")
		enum("spec.strategy.type", t, false, "Recreate", "RollingUpdate")
	}
	spec, path, cs := podContainers(obj)
	if spec != nil {
		enum(path+".restartPolicy", spec["restartPolicy"], false, "Always", "Never", "OnFailure")
	}
	for _, c := range cs {
		enum(c.path+".imagePullPolicy", c.spec["imagePullPolicy"], false, "Always", "IfNotPresent", "Never")
		ports, _ := c.spec["ports"].([]any)
		for i, p := range ports {
			pm, _ := p.(map[string]any)
			enum(fmt.Sprintf("%s.ports[%d].protocol", c.path, i), pm["protocol"], false, "SCTP", "TCP", "UDP")
		}
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
