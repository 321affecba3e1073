// Package diff compares what two environments deploy, object by object: the
// parity report between the local environment and a cloud one, or one
// environment at two commits.
//
// Objects are matched by API group, kind and name, not namespace: the
// environments put the same application in different namespaces (ghillie
// locally, pr-<N> for a preview). For objects in both, the report lists
// every field that differs and a unified diff of their YAML, with
// metadata.namespace and the labels naming the owner's namespace left out.
// Secret values are never shown: each is replaced by a tag that is equal for
// equal values within one comparison.
package diff

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Status says how an object differs between the two sides.
type Status string

// Statuses of a Difference.
const (
	OnlyInA Status = "only-in-a"
	OnlyInB Status = "only-in-b"
	Changed Status = "changed"
)

// Side is one side's copy of a compared object.
type Side struct {
	Namespace string `json:"namespace,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	// Kustomization and HelmRelease are "namespace/name" of the Flux
	// Kustomization that applies the object and of the HelmRelease that
	// rendered it (empty when none).
	Kustomization string `json:"kustomization,omitempty"`
	HelmRelease   string `json:"helmRelease,omitempty"`
}

// FieldChange is one field that differs. From is absent when the field was
// added, To when it was removed.
type FieldChange struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// Difference is one object that is not the same on both sides.
type Difference struct {
	// Object is "group/Kind/name" ("Kind/name" for the core group).
	Object string `json:"object"`
	// Group, Kind and Name are the parts of Object.
	Group  string        `json:"group,omitempty"`
	Kind   string        `json:"kind"`
	Name   string        `json:"name"`
	Status Status        `json:"status"`
	A      *Side         `json:"a,omitempty"`
	B      *Side         `json:"b,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"`
	// Unified is a unified diff of the two objects' YAML.
	Unified string `json:"unified,omitempty"`
	// Warnings are changes Kubernetes refuses in place and deletions that
	// lose data.
	Warnings []Warning `json:"warnings,omitempty"`
	// Intended is the reason the parity contract gives for the whole
	// difference, when it declares it (see Annotate).
	Intended string `json:"intended,omitempty"`
	// IntendedFields are, for a changed object, the reasons per field the
	// contract declares (same order as Fields; "" where it declares none).
	IntendedFields []string `json:"intendedFields,omitempty"`
}

// Report is the comparison of two sides, named A and B after what they are
// ("local", "ephemeral/pr-123", "staging@main").
type Report struct {
	A           string       `json:"a"`
	B           string       `json:"b"`
	Differences []Difference `json:"differences"`
	// Reasons are the parity contract's reasons, in its order, when
	// differences were annotated with them (see Difference.Intended).
	Reasons []string `json:"reasons,omitempty"`
}

// Equal reports whether the two sides deploy the same objects.
func (r *Report) Equal() bool { return len(r.Differences) == 0 }

// entry is an object with its matching key and normalised content.
type entry struct {
	key  string
	obj  manifest.Object
	norm map[string]any
}

// matchKey is the key objects are matched by: group, kind and name.
func matchKey(o manifest.Object) string {
	gvk := o.GroupVersionKind()
	if gvk.Group == "" {
		return gvk.Kind + "/" + o.GetName()
	}
	return gvk.Group + "/" + gvk.Kind + "/" + o.GetName()
}

// index groups objects by match key. When one side has several objects with
// the same key (the same name in different namespaces), they are matched in
// namespace order, the later ones keyed with "#2", "#3".
func index(objs []manifest.Object, redact func(string) string) map[string]entry {
	byKey := map[string][]manifest.Object{}
	for _, o := range objs {
		if o.Unstructured == nil {
			continue
		}
		byKey[matchKey(o)] = append(byKey[matchKey(o)], o)
	}
	out := map[string]entry{}
	for k, list := range byKey {
		sort.SliceStable(list, func(i, j int) bool { return list[i].GetNamespace() < list[j].GetNamespace() })
		for i, o := range list {
			key := k
			if i > 0 {
				key = fmt.Sprintf("%s#%d", k, i+1)
			}
			out[key] = entry{key: key, obj: o, norm: normalise(o, redact)}
		}
	}
	return out
}

// namespaceMetadata are the labels and annotations Flux and Helm set to the
// namespace of the object's owner; like metadata.namespace, they are
// expected to differ between environments.
var namespaceMetadata = []string{
	"helm.toolkit.fluxcd.io/namespace",
	"kustomize.toolkit.fluxcd.io/namespace",
	"meta.helm.sh/release-namespace",
}

// normalise returns a copy of the object's content without what is expected
// to differ between environments (its namespace and the labels naming its
// owner's namespace), and with Secret values replaced by redact's tags.
func normalise(o manifest.Object, redact func(string) string) map[string]any {
	c := o.DeepCopy().Object
	if md, ok := c["metadata"].(map[string]any); ok {
		delete(md, "namespace")
		for _, field := range []string{"labels", "annotations"} {
			m, _ := md[field].(map[string]any)
			for _, k := range namespaceMetadata {
				delete(m, k)
			}
			if m != nil && len(m) == 0 {
				delete(md, field)
			}
		}
		if len(md) == 0 {
			delete(c, "metadata")
		}
	}
	if o.GetKind() == "Secret" && o.GroupVersionKind().Group == "" {
		for _, field := range []string{"data", "stringData"} {
			m, _ := c[field].(map[string]any)
			for k, v := range m {
				m[k] = redact(fmt.Sprint(v))
			}
		}
	}
	return c
}

// newRedactor returns a function that replaces a secret value with a tag
// that is equal for equal values within one comparison and reveals nothing
// else: an HMAC under a key made for the comparison and then forgotten.
func newRedactor() (func(string) string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("making a key to redact Secrets: %w", err)
	}
	return func(v string) string {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(v))
		return "REDACTED-" + hex.EncodeToString(h.Sum(nil))[:8]
	}, nil
}

func side(o manifest.Object) *Side {
	return &Side{
		Namespace: o.GetNamespace(), File: o.Origin.File, Line: o.Origin.Line,
		Kustomization: o.Origin.Kustomization, HelmRelease: o.Origin.HelmRelease,
	}
}

// Option changes what Compare reports.
type Option func(*config)

type config struct{ revisions bool }

// Revisions says that B is a later revision of A (the same environment at
// two commits, as diff --base compares): an object only in A is deleted
// when B is applied, and each change is applied in place, so Compare adds
// the Warnings of changes Kubernetes refuses and of deletions that lose
// data. Between two environments, which never replace one another, there
// are none.
func Revisions() Option { return func(c *config) { c.revisions = true } }

// Compare compares the objects of side A with those of side B.
func Compare(aName string, a []manifest.Object, bName string, b []manifest.Object, opts ...Option) (*Report, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	redact, err := newRedactor()
	if err != nil {
		return nil, err
	}
	ia, ib := index(a, redact), index(b, redact)
	pruneA := pruning(a)
	keys := map[string]bool{}
	for k := range ia {
		keys[k] = true
	}
	for k := range ib {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	r := &Report{A: aName, B: bName, Differences: []Difference{}}
	for _, k := range sorted {
		ea, inA := ia[k]
		eb, inB := ib[k]
		named := ea.obj
		if !inA {
			named = eb.obj
		}
		gvk := named.GroupVersionKind()
		base := Difference{Object: k, Group: gvk.Group, Kind: gvk.Kind, Name: named.GetName()}
		switch {
		case inA && !inB:
			base.Status, base.A = OnlyInA, side(ea.obj)
			if cfg.revisions {
				base.Warnings = deleteWarnings(ea.obj, pruneA[ea.obj.Origin.Kustomization])
			}
			r.Differences = append(r.Differences, base)
		case inB && !inA:
			base.Status, base.B = OnlyInB, side(eb.obj)
			r.Differences = append(r.Differences, base)
		default:
			fields := compareValues("", ea.norm, eb.norm, nil)
			if len(fields) == 0 {
				continue
			}
			unified, err := unifiedDiff(aName, ea, bName, eb)
			if err != nil {
				return nil, err
			}
			base.Status, base.A, base.B, base.Fields, base.Unified = Changed, side(ea.obj), side(eb.obj), fields, unified
			if cfg.revisions {
				base.Warnings = changeWarnings(ea.obj, eb.obj, fields)
			}
			r.Differences = append(r.Differences, base)
		}
	}
	return r, nil
}

// compareValues appends to out every path at which a and b differ.
func compareValues(path string, a, b any, out []FieldChange) []FieldChange {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := joinPath(path, k)
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case inA && !inB:
				out = append(out, FieldChange{Path: p, From: x})
			case inB && !inA:
				out = append(out, FieldChange{Path: p, To: y})
			default:
				out = compareValues(p, x, y, out)
			}
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		for i := 0; i < max(len(av), len(bv)); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i >= len(bv):
				out = append(out, FieldChange{Path: p, From: av[i]})
			case i >= len(av):
				out = append(out, FieldChange{Path: p, To: bv[i]})
			default:
				out = compareValues(p, av[i], bv[i], out)
			}
		}
		return out
	}
	if !sameScalar(a, b) {
		out = append(out, FieldChange{Path: path, From: a, To: b})
	}
	return out
}

// sameScalar compares leaf values, treating equal numbers of different Go
// types (int64 from YAML, float64 from JSON) as the same.
func sameScalar(a, b any) bool {
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			return fa == fb
		}
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// joinPath appends a map key to a field path, quoting keys that are not
// plain identifiers (annotation keys, for example).
func joinPath(path, k string) string {
	if strings.ContainsAny(k, ".[] ") {
		k = "[" + strconv.Quote(k) + "]"
		return path + k
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// unifiedDiff renders the two normalised objects as YAML and diffs them.
func unifiedDiff(aName string, a entry, bName string, b entry) (string, error) {
	ya, err := yaml.Marshal(a.norm)
	if err != nil {
		return "", fmt.Errorf("encoding %s in %s: %w", a.key, aName, err)
	}
	yb, err := yaml.Marshal(b.norm)
	if err != nil {
		return "", fmt.Errorf("encoding %s in %s: %w", b.key, bName, err)
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(ya)),
		B:        difflib.SplitLines(string(yb)),
		FromFile: aName + "/" + a.key,
		ToFile:   bName + "/" + b.key,
		Context:  3,
	})
	if err != nil {
		return "", fmt.Errorf("diffing %s: %w", a.key, err)
	}
	return text, nil
}

// Text writes the report for people: one line per object only on one side,
// and for changed objects a header and the unified diff.
func (r *Report) Text() string {
	var b strings.Builder
	for _, d := range r.Differences {
		switch d.Status {
		case OnlyInA:
			fmt.Fprintf(&b, "only in %s: %s%s\n", r.A, d.Object, where(d.A))
		case OnlyInB:
			fmt.Fprintf(&b, "only in %s: %s%s\n", r.B, d.Object, where(d.B))
		case Changed:
			fmt.Fprintf(&b, "changed: %s (%d fields)\n", d.Object, len(d.Fields))
			b.WriteString(d.Unified)
		}
	}
	return b.String()
}

func where(s *Side) string {
	if s == nil {
		return ""
	}
	var parts []string
	if s.Namespace != "" {
		parts = append(parts, "namespace "+s.Namespace)
	}
	if s.File != "" {
		f := s.File
		if s.Line > 0 {
			f = fmt.Sprintf("%s:%d", f, s.Line)
		}
		parts = append(parts, f)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
