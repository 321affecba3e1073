package render

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestDecodeDocumentMatchesDecodeObjects: the direct YAML decoding gives
// exactly what decodeObjects gives through JSON, types of numbers
// included, and declines what it cannot match.
func TestDecodeDocumentMatchesDecodeObjects(t *testing.T) {
	const head = "---\n# Source: c/templates/x.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	cases := []struct {
		name, doc string
		fast      bool // the direct decoding must handle it
	}{
		{"plain", head + "data:\n  a: b\n", true},
		{"numbers", head + "spec:\n  i: 3\n  neg: -7\n  f: 1.5\n  whole: 2.0\n  negzero: -0.0\n  big: 1e20\n  huge: 1e21\n  tiny: 1e-7\n  small: 0.000001\n  hex: 0x1F\n  oct: 0o17\n  max: 9223372036854775807\n  over: 18446744073709551615\n  exp: 6.02e23\n", true},
		{"YAML 1.1 scalars", head + "spec:\n  yes: yes\n  on: on\n  off: off\n  tilde: ~\n  empty:\n  date: 2001-12-14\n  quoted: \"123\"\n", true},
		{"keys", head + "spec:\n  1: one\n  2.5: two and a half\n  true: yes\n  null: nothing\n", false},
		{"number and bool keys", head + "spec:\n  1: one\n  2.5: two and a half\n  true: yes\n  0.1: x\n  1e40: big\n  0x10: sixteen\n", true},
		{"string keys that look like others", head + "spec:\n  \"1\": one\n  \"true\": t\n", true},
		{"colliding keys", head + "spec:\n  1: int\n  \"1\": string\n", false},
		{"nested", head + "spec:\n  list:\n  - a: [1, 2.0, {b: c}]\n  - null\n  - - deep\n", true},
		{"anchors and merge", head + "spec:\n  base: &b {x: 1}\n  merged:\n    <<: *b\n    y: 2\n", true},
		{"block scalars", head + "data:\n  script: |\n    echo hi\n    ---not a separator\n  folded: >\n    one\n    two\n", true},
		{"unicode", head + "data:\n  greeting: \"h\\u00e9llo \\u2028 <&>\"\n", true},
		{"nan", head + "spec:\n  n: .nan\n", false},
		{"inf", head + "spec:\n  n: .inf\n", false},
		{"empty", "---\n# Source: c/templates/x.yaml\n# nothing here\n", true},
		{"empty map", "---\n# Source: c/templates/x.yaml\n{}\n", true},
		{"list", "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n", false},
		{"no kind", "---\napiVersion: v1\nmetadata:\n  name: x\n", false},
		{"kind not a string", "---\napiVersion: v1\nkind: 3\nmetadata:\n  name: x\n", false},
		{"scalar", "---\njust a string\n", false},
		{"timestamp tag", head + "spec:\n  t: !!timestamp 2001-12-14\n", true},
		{"binary", head + "binaryData:\n  b: !!binary aGVsbG8=\n", true},
		{"bad YAML", head + "spec:\n  a: [\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeDocument(tc.doc)
			want, err := decodeObjects(tc.doc)
			if ok != tc.fast {
				t.Fatalf("handled = %t, want %t (decodeObjects: %d objects, err %v)", ok, tc.fast, len(want), err)
			}
			if !ok {
				return
			}
			if err != nil {
				t.Fatalf("decodeDocument handled a document decodeObjects rejects: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeDocument = %#v\ndecodeObjects = %#v", got, want)
			}
		})
	}
}

// TestDecodeStreamMatchesDecodeObjects: streams of documents split and
// decoded directly give what decodeObjects gives, for hand-made streams and
// for every CRD file of the pinned upstream charts.
func TestDecodeStreamMatchesDecodeObjects(t *testing.T) {
	streams := map[string]struct {
		text string
		fast bool
	}{
		"several":          {"apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n--- # comment\napiVersion: v1\nkind: B\nmetadata: {name: b}\n---\n\n", true},
		"leading space":    {"\n\n  \napiVersion: v1\nkind: A\nmetadata: {name: a}\n", true},
		"no final newline": {"apiVersion: v1\nkind: A\nmetadata: {name: a}", true},
		"JSON":             {"  {\"apiVersion\": \"v1\", \"kind\": \"A\", \"metadata\": {\"name\": \"a\"}}", false},
		"bad separator":    {"apiVersion: v1\nkind: A\n--- x\nkind: B\n", false},
		"list":             {"apiVersion: v1\nkind: List\nitems: []\n", false},
	}
	check := func(t *testing.T, text string, fast bool) {
		t.Helper()
		got, ok := decodeStream(text)
		want, err := decodeObjects(text)
		if ok != fast {
			t.Fatalf("handled = %t, want %t (decodeObjects: %d objects, err %v)", ok, fast, len(want), err)
		}
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("decodeStream gave %d objects, decodeObjects %d (err %v)", len(got), len(want), err)
		}
	}
	for name, s := range streams {
		t.Run(name, func(t *testing.T) { check(t, s.text, s.fast) })
	}
	archives, _ := filepath.Glob(filepath.Join(upstreamChartsDir(t), "*.tgz"))
	for _, archive := range archives {
		ch, err := LoadChart(archive)
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range ch.CRDObjects() {
			t.Run(filepath.Base(archive)+"/"+crd.Filename, func(t *testing.T) { check(t, string(crd.File.Data), true) })
		}
	}
}
