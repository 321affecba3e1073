package parity

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/diff"
)

// Result is a comparison of local (side A) with a cloud environment (side
// B) checked against the declarations for that environment.
type Result struct {
	Local string `json:"local"`
	Cloud string `json:"cloud"`
	// Intended are the declarations that matched, with what they matched.
	Intended []Intended `json:"intended"`
	// Undeclared are the differences no declaration matches: drift.
	Undeclared []Undeclared `json:"undeclared"`
	// Stale are the declarations that match no difference.
	Stale []Declaration `json:"stale"`
}

// Intended is one declaration and the differences it matched.
type Intended struct {
	Declaration Declaration `json:"declaration"`
	Objects     int         `json:"objects"`
	Fields      int         `json:"fields"`
}

// Undeclared is a difference no declaration matches: an object only one
// side deploys (Field empty), or one field of an object both deploy.
type Undeclared struct {
	Object string      `json:"object"`
	Status diff.Status `json:"status"`
	Field  string      `json:"field,omitempty"`
	From   any         `json:"from,omitempty"`
	To     any         `json:"to,omitempty"`
}

// OK reports whether every difference is declared and every declaration
// still matches one.
func (r *Result) OK() bool { return len(r.Undeclared) == 0 && len(r.Stale) == 0 }

// Classification says, for one difference of a report, which declarations
// explain it.
type Classification struct {
	// Object is the declaration that explains a whole object only one side
	// deploys, or -1.
	Object int
	// Fields holds, per field of a changed object, the declaration that
	// explains it, or -1.
	Fields []int
}

// Declared reports whether the whole difference is intended.
func (c Classification) Declared() bool {
	if c.Fields == nil {
		return c.Object >= 0
	}
	for _, i := range c.Fields {
		if i < 0 {
			return false
		}
	}
	return true
}

// Classify matches each difference of r (A local, B the cloud) with the
// first declaration that explains it.
func Classify(decls []Declaration, r *diff.Report) []Classification {
	out := make([]Classification, len(r.Differences))
	for i, d := range r.Differences {
		c := Classification{Object: -1}
		switch d.Status {
		case diff.OnlyInA:
			c.Object = find(decls, OnlyLocal, d, owners(d, d.A), "")
		case diff.OnlyInB:
			c.Object = find(decls, OnlyCloud, d, owners(d, d.B), "")
		case diff.Changed:
			own := append(owners(d, d.A), owners(d, d.B)...)
			c.Fields = make([]int, len(d.Fields))
			for j, f := range d.Fields {
				c.Fields[j] = find(decls, "", d, own, f.Path)
			}
		}
		out[i] = c
	}
	return out
}

// Check checks the report r of local (A) against a cloud environment (B)
// with decls.
func Check(decls []Declaration, r *diff.Report) *Result {
	res := &Result{Local: r.A, Cloud: r.B, Intended: []Intended{}, Undeclared: []Undeclared{}, Stale: []Declaration{}}
	objects := make([]int, len(decls))
	fields := make([]int, len(decls))
	for i, c := range Classify(decls, r) {
		d := r.Differences[i]
		if c.Fields == nil {
			if c.Object >= 0 {
				objects[c.Object]++
			} else {
				res.Undeclared = append(res.Undeclared, Undeclared{Object: d.Object, Status: d.Status})
			}
			continue
		}
		counted := map[int]bool{}
		for j, k := range c.Fields {
			if k < 0 {
				f := d.Fields[j]
				res.Undeclared = append(res.Undeclared, Undeclared{Object: d.Object, Status: d.Status, Field: f.Path, From: f.From, To: f.To})
				continue
			}
			fields[k]++
			if !counted[k] {
				objects[k]++
				counted[k] = true
			}
		}
	}
	for i, d := range decls {
		if objects[i] == 0 {
			res.Stale = append(res.Stale, d)
			continue
		}
		res.Intended = append(res.Intended, Intended{Declaration: d, Objects: objects[i], Fields: fields[i]})
	}
	return res
}

// owners are the names an object's owners are matched by: the Flux
// Kustomization applying it, the HelmRelease rendering it, and the object
// itself when it is a Kustomization or HelmRelease, so that one owner
// pattern covers a Flux object and everything it deploys.
func owners(d diff.Difference, s *diff.Side) []string {
	if s == nil {
		return nil
	}
	var out []string
	switch {
	case d.Group == "kustomize.toolkit.fluxcd.io" && d.Kind == "Kustomization",
		d.Group == "helm.toolkit.fluxcd.io" && d.Kind == "HelmRelease":
		out = append(out, d.Kind+"/"+s.Namespace+"/"+d.Name)
	}
	if s.Kustomization != "" {
		out = append(out, "Kustomization/"+s.Kustomization)
	}
	if s.HelmRelease != "" {
		out = append(out, "HelmRelease/"+s.HelmRelease)
	}
	return out
}

// find returns the index of the first declaration about side only (""
// for fields) that matches the difference, or -1.
func find(decls []Declaration, only string, d diff.Difference, own []string, field string) int {
	for i, decl := range decls {
		if decl.Only != only || !matchKind(decl.Kind, d) || !match(decl.Name, d.Name) || !matchOwner(decl.Owner, own) {
			continue
		}
		if only == "" && !match(decl.Field, field) {
			continue
		}
		return i
	}
	return -1
}

func matchKind(p string, d diff.Difference) bool {
	if strings.Contains(p, "/") {
		return match(p, d.Group+"/"+d.Kind)
	}
	return match(p, d.Kind)
}

func matchOwner(p string, own []string) bool {
	if p == "" {
		return true
	}
	for _, o := range own {
		if match(p, o) {
			return true
		}
	}
	return false
}

// String describes the declaration in one line.
func (d Declaration) String() string {
	var parts []string
	if d.Only != "" {
		parts = append(parts, "only in "+d.Only)
	}
	for _, p := range []struct{ k, v string }{{"kind", d.Kind}, {"name", d.Name}, {"owner", d.Owner}, {"field", d.Field}} {
		if p.v != "" {
			parts = append(parts, p.k+" "+p.v)
		}
	}
	return fmt.Sprintf("%q (%s)", d.Reason, strings.Join(parts, ", "))
}

// Text writes the result for people: one line per undeclared difference and
// per stale declaration.
func (r *Result) Text() string {
	var b strings.Builder
	for _, u := range r.Undeclared {
		switch u.Status {
		case diff.OnlyInA:
			fmt.Fprintf(&b, "undeclared: only in %s: %s\n", r.Local, u.Object)
		case diff.OnlyInB:
			fmt.Fprintf(&b, "undeclared: only in %s: %s\n", r.Cloud, u.Object)
		default:
			fmt.Fprintf(&b, "undeclared: %s: %s: %s → %s\n", u.Object, u.Field, short(u.From), short(u.To))
		}
	}
	for _, d := range r.Stale {
		fmt.Fprintf(&b, "stale: %s matches no difference between %s and %s; remove it from %s\n", d, r.Local, r.Cloud, File)
	}
	return b.String()
}

// short formats a field value on one line, bounded.
func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if s := string(b); len(s) <= 80 {
		return s
	}
	return string(b[:77]) + "..."
}

// Annotate marks the differences of r (A local, B the cloud) that decls
// declare, with the reason of the declaration, so that diff can name them
// as intended.
func Annotate(decls []Declaration, r *diff.Report) {
	r.Reasons = r.Reasons[:0]
	for _, d := range decls {
		r.Reasons = append(r.Reasons, d.Reason)
	}
	for i, c := range Classify(decls, r) {
		d := &r.Differences[i]
		if c.Fields == nil {
			if c.Object >= 0 {
				d.Intended = decls[c.Object].Reason
			}
			continue
		}
		d.IntendedFields = make([]string, len(c.Fields))
		for j, k := range c.Fields {
			if k >= 0 {
				d.IntendedFields[j] = decls[k].Reason
			}
		}
	}
}
