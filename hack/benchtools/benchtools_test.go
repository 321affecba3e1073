package benchtools

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		in   []time.Duration
		want Summary
	}{
		{[]time.Duration{5 * ms}, Summary{5 * ms, 5 * ms, 5 * ms}},
		{[]time.Duration{9 * ms, 1 * ms, 5 * ms}, Summary{1 * ms, 5 * ms, 9 * ms}},
		{[]time.Duration{8 * ms, 2 * ms, 4 * ms, 6 * ms}, Summary{2 * ms, 5 * ms, 8 * ms}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		if got := Summarize(c.in); got != c.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("Summarize reordered its input: %v", c.in)
		}
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(3*time.Second, 2*time.Second); got != 1.5 {
		t.Errorf("Ratio(3s, 2s) = %v, want 1.5", got)
	}
	if got := Ratio(time.Second, 0); got != 0 {
		t.Errorf("Ratio(1s, 0) = %v, want 0", got)
	}
}

func TestListsNoCache(t *testing.T) {
	with := []byte("Flags:\n      --chart-cache string   chart cache\n      --no-cache             build everything afresh\n  -h, --help\n")
	without := []byte("Flags:\n      --chart-cache string   chart cache; see --no-cache in a later version\n  -h, --help\n")
	if !ListsNoCache(with) {
		t.Error("help listing --no-cache as a flag: not recognised")
	}
	if ListsNoCache(without) {
		t.Error("help mentioning --no-cache only in a description: taken for the flag")
	}
	if got := Cold(true, "validate"); !slices.Equal(got, []string{"validate", "--no-cache"}) {
		t.Errorf("Cold(true) = %v", got)
	}
	if got := Cold(false, "validate"); !slices.Equal(got, []string{"validate"}) {
		t.Errorf("Cold(false) = %v", got)
	}
}

func TestToolPathIsPerVersion(t *testing.T) {
	a := Tool{Name: "helm", Version: "v4.2.4"}.Path("/d")
	b := Tool{Name: "helm", Version: "v4.3.0"}.Path("/d")
	if a == b {
		t.Errorf("two versions share the install path %s", a)
	}
	for _, tl := range []Tool{Kustomize, Helm, Kubeconform, Flate} {
		if tl.Version == "" || tl.Version == "latest" {
			t.Errorf("%s: version %q is not a pin", tl.Name, tl.Version)
		}
	}
}

// The helm command benchmarked is the Helm library gitops-local renders
// with.
func TestHelmPinMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "helm.sh/helm/v4" {
			if f[1] != Helm.Version {
				t.Errorf("go.mod has helm.sh/helm/v4 %s, the benchmarks install helm %s", f[1], Helm.Version)
			}
			return
		}
	}
	t.Fatal("go.mod does not require helm.sh/helm/v4")
}

func TestReportRatiosOfMedians(t *testing.T) {
	s := time.Second
	a := &Contender{Name: "a", Took: []time.Duration{9 * s, 4 * s, 4 * s}}
	b := &Contender{Name: "b", Took: []time.Duration{1 * s, 2 * s, 30 * s}}
	var out strings.Builder
	Report(&out, []*Contender{a, b}, [][2]*Contender{{a, b}})
	if !strings.Contains(out.String(), "a / b: 2.00\n") {
		t.Errorf("report lacks the ratio of medians 4s/2s:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "median   4000 ms") {
		t.Errorf("report lacks a's median:\n%s", out.String())
	}
}

// SupportsNoCache asks the binary itself: a gitops-local whose validate
// --help lists the flag, and one whose does not.
func TestSupportsNoCacheAsksTheBinary(t *testing.T) {
	for _, c := range []struct {
		help string
		want bool
	}{
		{"Flags:\n      --no-cache   skip the result cache\n", true},
		{"Flags:\n      --offline   never pull\n", false},
	} {
		bin := filepath.Join(t.TempDir(), "gitops-local")
		script := "#!/bin/sh\n[ \"$1 $2\" = \"validate --help\" ] || exit 3\nprintf '" + strings.ReplaceAll(c.help, "\n", "\\n") + "'\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := SupportsNoCache(context.Background(), bin)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("help %q: SupportsNoCache = %v, want %v", c.help, got, c.want)
		}
	}
	if _, err := SupportsNoCache(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary: no error")
	}
}
