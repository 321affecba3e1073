package manifest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// laughs is a "billion laughs" document: levels lists of width aliases of
// the previous list, so that it expands to width^levels scalars.
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [")
	b.WriteString(strings.TrimSuffix(strings.Repeat(`"lol",`, width), ","))
	b.WriteString("]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		b.WriteString(strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), width), ","))
		b.WriteString("]\n")
	}
	return b.String()
}

// fanOut is an ordinary document that reuses anchors moderately: n anchored
// maps, each referenced uses times.
func fanOut(n, uses int) string {
	var b strings.Builder
	b.WriteString("defs:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  d%d: &d%d {image: app, tag: v%d, port: %d}\n", i, i, i, 8000+i)
	}
	b.WriteString("uses:\n")
	for i := 0; i < n; i++ {
		for j := 0; j < uses; j++ {
			fmt.Fprintf(&b, "  - *d%d\n", i)
		}
	}
	return b.String()
}

// mergeKeys is a document where n mappings merge one of defaults.
func mergeKeys(n int) string {
	var b strings.Builder
	b.WriteString("defaults: &defaults {image: app, pull: always, cpu: 100m, memory: 64Mi, replicas: 1}\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    <<: *defaults\n    name: s%d\n    replicas: %d\n", i, i, i)
	}
	return b.String()
}

// TestCheckYAMLAliasesAgreesWithGoYAML: the check refuses exactly the
// documents go-yaml's decoders (v3, and the v2 fork sigs.k8s.io/yaml uses)
// refuse for excessive aliasing.
func TestCheckYAMLAliasesAgreesWithGoYAML(t *testing.T) {
	docs := map[string]string{
		"no aliases":                 "a: 1\nb: [x, y]\n",
		"few aliases":                fanOut(10, 3),
		"many small reuses":          fanOut(300, 20),
		"heavy reuse":                fanOut(20, 400),
		"laughs 3x4 (64 scalars)":    laughs(3, 4),
		"laughs 4x9 (6561 scalars)":  laughs(4, 9),
		"laughs 5x9 (59049 scalars)": laughs(5, 9),
		"laughs 9x9":                 laughs(9, 9),
		"second document is a bomb":  "a: 1\n---\n" + laughs(6, 9),
		"merge keys":                 mergeKeys(200),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			got := CheckYAMLAliases([]byte(doc))
			refusedV3 := decodeAll(t, doc, func(s string) error {
				dec := yaml.NewDecoder(strings.NewReader(s))
				for {
					var v any
					if err := dec.Decode(&v); err != nil {
						if err.Error() == "EOF" {
							return nil
						}
						return err
					}
				}
			})
			refusedV2 := decodeAll(t, doc, func(s string) error {
				dec := yamlv2.NewDecoder(strings.NewReader(s))
				for {
					var v any
					if err := dec.Decode(&v); err != nil {
						if err.Error() == "EOF" {
							return nil
						}
						return err
					}
				}
			})
			if refusedV3 != refusedV2 {
				t.Fatalf("go-yaml v3 refuses: %v, v2: %v", refusedV3, refusedV2)
			}
			if (got != nil) != refusedV3 {
				t.Fatalf("CheckYAMLAliases = %v, go-yaml refuses: %v", got, refusedV3)
			}
			if got != nil && !errors.Is(got, ErrExcessiveAliasing) {
				t.Fatalf("error %v does not wrap ErrExcessiveAliasing", got)
			}
		})
	}
}

// decodeAll reports whether decode refuses doc for excessive aliasing; any
// other error fails the test.
func decodeAll(t *testing.T, doc string, decode func(string) error) bool {
	t.Helper()
	err := decode(doc)
	if err == nil {
		return false
	}
	if !strings.Contains(err.Error(), "excessive aliasing") {
		t.Fatalf("unexpected decode error: %v", err)
	}
	return true
}

// TestCheckYAMLAliasesBillionLaughsIsCheap: a document of a few hundred
// bytes that would expand to 9^9 (387 million) scalars is refused with
// almost no allocation.
func TestCheckYAMLAliasesBillionLaughsIsCheap(t *testing.T) {
	doc := []byte(laughs(9, 9))
	if len(doc) > 600 {
		t.Fatalf("the bomb is %d bytes, want a small one", len(doc))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := CheckYAMLAliases(doc)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrExcessiveAliasing) {
		t.Fatalf("err = %v, want excessive aliasing", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes, want under 1 MiB", got)
	}
}
