// Package manifest holds the types shared by the packages that build, check
// and compare what an environment deploys: an object with where it came from,
// and a finding that names the file, object and field it is about.
package manifest

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// PublishedDirs are the repository folders that make up the GitOps tree: the
// ones pushed to the cluster's source, hence the only ones a Flux
// Kustomization can reach, and the ones build, validate and watch read.
var PublishedDirs = []string{"gitops", "overlays", "charts"}

// Origin says where an object came from, so that a finding can name it.
type Origin struct {
	// File is the repository-relative path of the file that declared the
	// object (for rendered chart objects: the chart template).
	File string `json:"file,omitempty"`
	// Line is the 1-based line in File where the object starts, when known.
	Line int `json:"line,omitempty"`
	// Kustomization is "namespace/name" of the Flux Kustomization that
	// applies the object; empty for the environment's root.
	Kustomization string `json:"kustomization,omitempty"`
	// HelmRelease is "namespace/name" of the HelmRelease that rendered the
	// object; empty for objects that are not rendered from a chart.
	HelmRelease string `json:"helmRelease,omitempty"`
}

// Object is one Kubernetes object of an environment, with its origin.
type Object struct {
	*unstructured.Unstructured
	Origin Origin
}

// ID is the object's identity: "group/Kind/namespace/name" with empty parts
// kept, so that two objects collide exactly when Kubernetes would see one.
func (o Object) ID() string {
	gvk := o.GroupVersionKind()
	return fmt.Sprintf("%s/%s/%s/%s", gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName())
}

// Ref names the object for people: "Kind/namespace/name" or "Kind/name".
func (o Object) Ref() string {
	return Ref(o.GetKind(), o.GetNamespace(), o.GetName())
}

// Ref formats a kind, namespace and name as "Kind/namespace/name", leaving
// out an empty namespace.
func Ref(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// Finding is one problem found in the repository: the file, the object and
// the field it is about, and what is wrong.
type Finding struct {
	// Environment is the overlay the problem was found in ("local",
	// "ephemeral/pr-123"); empty when it concerns the whole repository.
	Environment string `json:"environment,omitempty"`
	File        string `json:"file"`
	Line        int    `json:"line,omitempty"`
	// Object is "Kind/namespace/name".
	Object string `json:"object,omitempty"`
	// Field is the path of the offending field, e.g. "spec.values.image.tagg".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the finding as "file:line: Kind/ns/name: field: message".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		fmt.Fprintf(&b, ":%d", f.Line)
	}
	b.WriteString(": ")
	if f.Environment != "" {
		fmt.Fprintf(&b, "[%s] ", f.Environment)
	}
	if f.Object != "" {
		b.WriteString(f.Object + ": ")
	}
	if f.Field != "" {
		b.WriteString(f.Field + ": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// SortFindings orders findings by environment, file, line, object, field and
// message, so that reports are stable.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Environment != b.Environment {
			return a.Environment < b.Environment
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}
