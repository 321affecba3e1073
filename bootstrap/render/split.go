package render

import (
	"strings"
	"unicode"
)

// splitManifests is Helm's releaseutil.SplitManifests (v4.2.4) without its
// regular expression, returning the documents in order instead of in a map
// keyed "manifest-N". Helm splits a template's output at every line that
// starts with "---", taking the spaces and tabs after it with the
// separator, drops the pieces that are only white space and trims white
// space from the start of the others. A regular expression over a chart's
// CRD templates (megabytes) was a large part of a render; a test compares
// the two on every chart template and on generated text.
func splitManifests(bigFile string) []string {
	s := strings.TrimLeftFunc(bigFile, unicode.IsSpace)
	var docs []string
	add := func(d string) {
		if strings.TrimSpace(d) == "" {
			return
		}
		docs = append(docs, strings.TrimLeftFunc(d, unicode.IsSpace))
	}
	beg, from := 0, 0
	for {
		i := strings.Index(s[from:], "---")
		if i < 0 {
			break
		}
		p := from + i
		if p > 0 && s[p-1] != '\n' {
			from = p + 1
			continue
		}
		add(s[beg:p])
		end := p + len("---")
		for end < len(s) && (s[end] == ' ' || s[end] == '\t') {
			end++
		}
		beg, from = end, end
	}
	add(s[beg:])
	return docs
}
