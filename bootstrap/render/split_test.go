package render

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// helmSplit is Helm's SplitManifests, its documents in Helm's order.
func helmSplit(s string) []string {
	m := releaseutil.SplitManifests(s)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var out []string
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func checkSplit(t *testing.T, s string) {
	t.Helper()
	got, want := splitManifests(s), helmSplit(s)
	if slices.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("splitManifests(%s): %d documents, Helm %d; document %d:\n got %s\nwant %s",
		short(s), len(got), len(want), i, short(at(got, i)), short(at(want, i)))
}

func at(docs []string, i int) string {
	if i < len(docs) {
		return docs[i]
	}
	return "(none)"
}

// short quotes s, cut to its first 200 bytes.
func short(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", s[:200], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func TestSplitManifestsSplitsAsHelm(t *testing.T) {
	for _, s := range []string{
		"", " \n\t", "---", "---\n---", "a: 1", "---\na: 1\n---\nb: 2\n",
		"a: 1\n--- \t\nb: 2", "a: 1\n---b: 2", "a: 1\n ---\nb: 2", "a: ---\n",
		"a\r\n---\r\nb", "\n\n  ---\n\u00a0a", "------\n----", "a\n---\n---\nb",
		"# c\n---\n\n---\n  \n", "\u2028---\na", "a\n---\v\nb",
	} {
		checkSplit(t, s)
	}
	// Generated text from pieces around the separator: Helm's regular
	// expression and splitManifests must agree on every one.
	pieces := []string{"---", "-", "--", "\n", " ", "\t", "\r", "\v", "\u00a0", "\u2028", "a", "k: v", "#", "\n---\n"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		checkSplit(t, b.String())
	}
}

// Every template file of the repository's chart and of the upstream chart
// archives splits as Helm splits it. (Their rendered output is compared
// with Helm's install in TestDirectRenderMatchesInstall.)
func TestSplitManifestsOnChartTemplates(t *testing.T) {
	charts := []*chart.Chart{loadGhillie(t)}
	archives, _ := filepath.Glob(filepath.Join(upstreamChartsDir(t), "*.tgz"))
	for _, a := range archives {
		ch, err := LoadChart(a)
		if err != nil {
			t.Fatal(err)
		}
		charts = append(charts, ch)
	}
	files := 0
	for _, ch := range charts {
		for _, f := range ch.Templates {
			checkSplit(t, string(f.Data))
			files++
		}
	}
	if files == 0 {
		t.Fatal("no templates")
	}
	t.Logf("%d template files of %d charts", files, len(charts))
}

func FuzzSplitManifests(f *testing.F) {
	for _, s := range []string{"a: 1\n---\nb: 2", "---\n--- \t\n", "a\n---b", " \n---"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSplit(t, s)
	})
}
