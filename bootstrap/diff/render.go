package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/leynos/gitops-local/bootstrap/progress"
)

// Style is how a line of the text report is coloured on a terminal.
type Style int

// Styles of report lines.
const (
	Plain Style = iota
	Heading
	Added
	Removed
	Changing
	Warn
)

var ansi = map[Style]string{Heading: "\x1b[1m", Added: "\x1b[32m", Removed: "\x1b[31m", Changing: "\x1b[36m", Warn: "\x1b[33m"}

// Painter writes one line of the report in a style.
type Painter func(w io.Writer, s Style, line string) error

// PlainText writes lines as they are (for files, pipes and -o markdown).
func PlainText(w io.Writer, _ Style, line string) error {
	_, err := io.WriteString(w, line+"\n")
	return err
}

// Colour writes lines coloured with ANSI sequences, for a terminal. w is
// the terminal itself, not an escaping writer: the line's own control
// characters are escaped here (progress.Escape) before the colour is put
// around it.
func Colour(w io.Writer, s Style, line string) error {
	line = progress.Escape(line)
	if code, ok := ansi[s]; ok {
		line = code + line + "\x1b[0m"
	}
	_, err := io.WriteString(w, line+"\n")
	return err
}

// Summary counts a report's differences.
type Summary struct {
	Added    int `json:"added"`
	Removed  int `json:"removed"`
	Changed  int `json:"changed"`
	Intended int `json:"intended"`
	Warnings int `json:"warnings"`
}

// Summarise counts the differences of r: Added are only in B, Removed only
// in A, Intended those the parity contract declares whole.
func (r *Report) Summarise() Summary {
	var s Summary
	for _, d := range r.Differences {
		switch d.Status {
		case OnlyInA:
			s.Removed++
		case OnlyInB:
			s.Added++
		case Changed:
			s.Changed++
		}
		if d.declared() {
			s.Intended++
		}
		s.Warnings += len(d.Warnings)
	}
	return s
}

func (s Summary) String() string {
	n := s.Added + s.Removed + s.Changed
	if n == 0 {
		return "no differences"
	}
	out := fmt.Sprintf("%d added, %d removed, %d changed", s.Added, s.Removed, s.Changed)
	if s.Intended > 0 {
		if s.Intended == n {
			out += "; all intended"
		} else {
			out += fmt.Sprintf("; %d intended, %d not", s.Intended, n-s.Intended)
		}
	}
	if s.Warnings > 0 {
		out += fmt.Sprintf("; ⚠ %d", s.Warnings)
	}
	return out
}

// declared reports whether the parity contract declares the whole
// difference.
func (d Difference) declared() bool {
	if d.Status != Changed {
		return d.Intended != ""
	}
	if len(d.IntendedFields) != len(d.Fields) {
		return false
	}
	for _, r := range d.IntendedFields {
		if r == "" {
			return false
		}
	}
	return true
}

// ImageChange is one container image that changes.
type ImageChange struct {
	Object string `json:"object"`
	Field  string `json:"field"`
	From   string `json:"from"`
	To     string `json:"to"`
}

var imageField = regexp.MustCompile(`(?:^|\.)(?:initContainers|containers|ephemeralContainers)\[\d+\]\.image$`)

// Images lists every container image that changes, in report order.
func (r *Report) Images() []ImageChange {
	var out []ImageChange
	for _, d := range r.Differences {
		for _, f := range d.Fields {
			if imageField.MatchString(f.Path) {
				out = append(out, ImageChange{Object: d.Object, Field: f.Path, From: str(f.From), To: str(f.To)})
			}
		}
	}
	return out
}

func str(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}

// Group is the differences of the objects one Flux Kustomization (and
// HelmRelease) applies.
type Group struct {
	Owner       string
	Differences []Difference
}

// Groups sorts the differences by owner: the Flux Kustomization applying
// the object and the HelmRelease rendering it, as named on side B (side A
// for objects only there).
func (r *Report) Groups() []Group {
	byOwner := map[string][]Difference{}
	for _, d := range r.Differences {
		s := d.B
		if s == nil {
			s = d.A
		}
		byOwner[ownerName(s)] = append(byOwner[ownerName(s)], d)
	}
	keys := make([]string, 0, len(byOwner))
	for k := range byOwner {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Group, 0, len(keys))
	for _, k := range keys {
		out = append(out, Group{Owner: k, Differences: byOwner[k]})
	}
	return out
}

func ownerName(s *Side) string {
	if s == nil {
		return ""
	}
	k := "Kustomization " + s.Kustomization
	if s.Kustomization == "" {
		k = "the environment's root"
	}
	if s.HelmRelease != "" {
		k += ", HelmRelease " + s.HelmRelease
	}
	return k
}

// reasonCount is how much one intended reason covers.
type reasonCount struct {
	reason                  string
	onlyA, onlyB, objs, fld int
}

// intended aggregates the differences the contract declares by reason, in
// the order of r.Reasons (the contract's), then of first appearance.
func (r *Report) intended() []*reasonCount {
	var order []*reasonCount
	by := map[string]*reasonCount{}
	get := func(reason string) *reasonCount {
		if c, ok := by[reason]; ok {
			return c
		}
		c := &reasonCount{reason: reason}
		by[reason] = c
		order = append(order, c)
		return c
	}
	for _, d := range r.Differences {
		switch d.Status {
		case OnlyInA:
			if d.Intended != "" {
				get(d.Intended).onlyA++
			}
		case OnlyInB:
			if d.Intended != "" {
				get(d.Intended).onlyB++
			}
		case Changed:
			seen := map[string]bool{}
			for _, reason := range d.IntendedFields {
				if reason == "" {
					continue
				}
				c := get(reason)
				c.fld++
				if !seen[reason] {
					c.objs++
					seen[reason] = true
				}
			}
		}
	}
	rank := map[string]int{}
	for i, reason := range r.Reasons {
		if _, ok := rank[reason]; !ok {
			rank[reason] = i
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ri, oki := rank[order[i].reason]
		rj, okj := rank[order[j].reason]
		if oki != okj {
			return oki
		}
		return ri < rj
	})
	return order
}

func (c *reasonCount) describe(a, b string) string {
	var parts []string
	if c.onlyB > 0 {
		parts = append(parts, fmt.Sprintf("%s only in %s", count(c.onlyB, "object"), b))
	}
	if c.onlyA > 0 {
		parts = append(parts, fmt.Sprintf("%s only in %s", count(c.onlyA, "object"), a))
	}
	if c.objs > 0 {
		parts = append(parts, fmt.Sprintf("%s in %s", count(c.fld, "field"), count(c.objs, "object")))
	}
	return strings.Join(parts, ", ")
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// value formats a field value on one line, bounded.
func value(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if s := string(b); len(s) <= 100 {
		return s
	}
	return string(b[:97]) + "..."
}

// fieldLines are the lines of a changed object's fields not declared
// intended: "- path: old" and "+ path: new".
func fieldLines(d Difference) []struct {
	style Style
	text  string
} {
	var out []struct {
		style Style
		text  string
	}
	for i, f := range d.Fields {
		if i < len(d.IntendedFields) && d.IntendedFields[i] != "" {
			continue
		}
		if from, ok := f.From.(string); ok && strings.Contains(from, "\n") {
			if to, ok := f.To.(string); ok && strings.Contains(to, "\n") {
				out = append(out, struct {
					style Style
					text  string
				}{Changing, "~ " + f.Path + ":"})
				for _, l := range textDiff(from, to) {
					st := Plain
					switch {
					case strings.HasPrefix(l, "+"):
						st = Added
					case strings.HasPrefix(l, "-"):
						st = Removed
					}
					out = append(out, struct {
						style Style
						text  string
					}{st, "  " + l})
				}
				continue
			}
		}
		if f.From != nil {
			out = append(out, struct {
				style Style
				text  string
			}{Removed, "- " + f.Path + ": " + value(f.From)})
		}
		if f.To != nil {
			out = append(out, struct {
				style Style
				text  string
			}{Added, "+ " + f.Path + ": " + value(f.To)})
		}
	}
	return out
}

// textDiff is a unified diff, one line of context, of two multi-line
// strings (a Flux Kustomization's patch, a ConfigMap's file), without
// its file headers.
func textDiff(a, b string) []string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), Context: 1,
	})
	if err != nil {
		return []string{"- " + value(a), "+ " + value(b)}
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// objectLine is the line naming a difference: "+ X", "- X" or "~ X (n
// fields)", with its intended fields counted.
func objectLine(d Difference) (Style, string) {
	switch d.Status {
	case OnlyInA:
		return Removed, "- " + d.Object
	case OnlyInB:
		return Added, "+ " + d.Object
	}
	n := 0
	for _, r := range d.IntendedFields {
		if r != "" {
			n++
		}
	}
	s := fmt.Sprintf("~ %s (%s", d.Object, count(len(d.Fields)-n, "field"))
	if n > 0 {
		s += fmt.Sprintf(", %d intended", n)
	}
	return Changing, s + ")"
}

// TextOptions say how WriteText presents a report.
type TextOptions struct {
	// Contract names the parity file whose declarations Annotate applied.
	Contract string
	// Full shows the differences the contract declares as well, not only
	// their summary.
	Full bool
}

// WriteText writes the report for people: a summary line, the intended
// differences summarised by reason, the image changes, then per owner the
// objects added (+), removed (-) and changed (~) with their changed fields
// and ⚠ warnings.
func (r *Report) WriteText(w io.Writer, paint Painter, opts TextOptions) error {
	var err error
	line := func(s Style, text string) {
		if err == nil {
			err = paint(w, s, text)
		}
	}
	sum := r.Summarise()
	line(Heading, fmt.Sprintf("%s → %s: %s", r.A, r.B, sum))
	if reasons := r.intended(); len(reasons) > 0 {
		line(Plain, "")
		line(Heading, "Intended ("+opts.Contract+"):")
		for _, c := range reasons {
			line(Plain, fmt.Sprintf("  %s: %s", c.reason, c.describe(r.A, r.B)))
		}
	}
	if images := r.Images(); len(images) > 0 {
		line(Plain, "")
		line(Heading, "Images:")
		for _, im := range images {
			line(Plain, fmt.Sprintf("  %s %s: %s → %s", im.Object, im.Field, im.From, im.To))
		}
	}
	for _, g := range r.Groups() {
		var shown []Difference
		for _, d := range g.Differences {
			if opts.Full || !d.declared() {
				shown = append(shown, d)
			}
		}
		if len(shown) == 0 {
			continue
		}
		line(Plain, "")
		line(Heading, g.Owner+":")
		for _, d := range shown {
			style, text := objectLine(d)
			line(style, "  "+text)
			for _, wn := range d.Warnings {
				line(Warn, "    ⚠ "+wn.Message)
			}
			if d.Status == Changed {
				for _, fl := range fieldLines(d) {
					line(fl.style, "      "+fl.text)
				}
			}
		}
	}
	return err
}
