package diff

import (
	"fmt"
	"strings"
)

// DefaultMarkdownLimit keeps a pull-request comment under GitHub's limit
// of 65536 characters, with room for the comment's own header.
const DefaultMarkdownLimit = 60000

// Markdown renders reports (one per environment) for a pull-request
// comment: a summary table first, then one collapsible section per
// environment with the image changes and, per owner, the objects that
// differ and their changed fields. The result is at most limit bytes:
// objects that do not fit are cut, and a note at the end says how many
// and how to see them (see is the command to run).
func Markdown(title string, reports []*Report, limit int, see string) string {
	var head strings.Builder
	fmt.Fprintf(&head, "### %s\n\n| environment | added | removed | changed | ⚠ |\n| --- | --- | --- | --- | --- |\n", md(title))
	for _, r := range reports {
		s := r.Summarise()
		fmt.Fprintf(&head, "| %s | %d | %d | %d | %d |\n", md(r.B), s.Added, s.Removed, s.Changed, s.Warnings)
	}
	head.WriteString("\n")

	// The note is written in the room kept for it at the end, as long as
	// it can be.
	note := func(cut, envs int) string {
		return fmt.Sprintf("_%s in %s cut to keep this comment under %d characters; run `%s` to see everything._\n", count(cut, "object"), count(envs, "environment"), limit, code(see))
	}
	total := 0
	for _, r := range reports {
		total += len(r.Differences)
	}
	budget := limit - head.Len() - len(note(total+10, len(reports)+10))
	var body strings.Builder
	cut, cutEnvs := 0, 0
	for _, r := range reports {
		if len(r.Differences) == 0 {
			continue
		}
		var sec strings.Builder
		s := r.Summarise()
		open := "⚠ "
		if s.Warnings == 0 {
			open = ""
		}
		fmt.Fprintf(&sec, "<details><summary>%s<b>%s</b>: %s</summary>\n\n", open, md(r.B), md(s.String()))
		const closing = "\n</details>\n\n"
		if images := r.Images(); len(images) > 0 {
			sec.WriteString("| image of | old | new |\n| --- | --- | --- |\n")
			for _, im := range images {
				fmt.Fprintf(&sec, "| `%s` | `%s` | `%s` |\n", code(im.Object), code(im.From), code(im.To))
			}
			sec.WriteString("\n")
		}
		if reasons := r.intended(); len(reasons) > 0 {
			sec.WriteString("Intended (declared in the parity file), not listed below:\n\n")
			for _, c := range reasons {
				fmt.Fprintf(&sec, "- %s: %s\n", md(c.reason), md(c.describe(r.A, r.B)))
			}
			sec.WriteString("\n")
		}
		envCut := 0
		for _, g := range r.Groups() {
			group := fmt.Sprintf("**%s**\n\n", md(g.Owner))
			wroteGroup := false
			for _, d := range g.Differences {
				if d.declared() {
					continue
				}
				entry := markdownEntry(d)
				if body.Len()+sec.Len()+len(group)+len(entry)+len(closing) > budget {
					envCut++
					continue
				}
				if !wroteGroup {
					sec.WriteString(group)
					wroteGroup = true
				}
				sec.WriteString(entry)
			}
			if wroteGroup {
				sec.WriteString("\n")
			}
		}
		if body.Len()+sec.Len()+len(closing) > budget {
			// Not even the section's header fits: leave it out whole.
			cut += len(r.Differences)
			cutEnvs++
			continue
		}
		sec.WriteString(closing)
		body.WriteString(sec.String())
		if envCut > 0 {
			cut += envCut
			cutEnvs++
		}
	}
	out := head.String() + body.String()
	if cut > 0 {
		out += note(cut, cutEnvs)
	}
	return out
}

// markdownEntry is one object of a section: its line with warnings, and a
// diff block of its changed fields.
func markdownEntry(d Difference) string {
	var b strings.Builder
	_, text := objectLine(d)
	fmt.Fprintf(&b, "- `%s`\n", code(text))
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "  - ⚠ %s\n", md(w.Message))
	}
	if d.Status == Changed {
		lines := fieldLines(d)
		if len(lines) > 0 {
			b.WriteString("\n  ```diff\n")
			for _, l := range lines {
				b.WriteString("  " + strings.ReplaceAll(l.text, "```", "'''") + "\n")
			}
			b.WriteString("  ```\n")
		}
	}
	return b.String()
}

// md escapes text for Markdown and HTML outside code spans.
func md(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_", "\n", " ")
	return r.Replace(s)
}

// code makes text safe inside a code span of a table cell.
func code(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s)
}
