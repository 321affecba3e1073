package diff

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func manyChanges(t *testing.T, n int) *Report {
	t.Helper()
	var a, b []string
	for i := range n {
		a = append(a, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: c%03d}, data: {k: "old"}}`, i))
		b = append(b, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: c%03d}, data: {k: "new"}}`, i))
	}
	r, err := Compare("env@main", objs(t, "a.yaml", a...), "env", objs(t, "b.yaml", b...), Revisions())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMarkdownIsBounded(t *testing.T) {
	small := manyChanges(t, 3)
	out := Markdown("diff", []*Report{small}, 5000, "gitops-local diff --base main")
	if strings.Contains(out, "cut to keep") || strings.Count(out, "- `~ ConfigMap/c") != 3 {
		t.Errorf("a short report was cut:\n%s", out)
	}
	if !strings.HasPrefix(out, "### diff\n\n| environment |") || !strings.Contains(out, "| env | 0 | 0 | 3 | 0 |") {
		t.Errorf("no summary first:\n%s", out)
	}
	big := manyChanges(t, 500)
	for _, limit := range []int{1000, 5000, 20000} {
		out := Markdown("diff", []*Report{small, big}, limit, "gitops-local diff --base main")
		if len(out) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(out))
		}
		shown := strings.Count(out, "- `~ ConfigMap/c")
		note := fmt.Sprintf("_%d objects in ", 503-shown)
		if !strings.Contains(out, note) || !strings.Contains(out, fmt.Sprintf("cut to keep this comment under %d characters; run `gitops-local diff --base main` to see everything._", limit)) {
			t.Errorf("limit %d: %d shown, note missing or wrong (want %q):\n%s", limit, shown, note, out[max(0, len(out)-400):])
		}
		if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
			t.Errorf("limit %d: unbalanced sections", limit)
		}
	}
}

func TestRenderingNeverShowsSecretValues(t *testing.T) {
	a := objs(t, "a.yaml", `{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {pw: aHVudGVyMg==}, stringData: {token: hunter2}}`)
	b := objs(t, "b.yaml", `{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {pw: c3dvcmRmaXNo}, stringData: {token: swordfish}}`)
	r, err := Compare("a", a, "b", b, Revisions())
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text, PlainText, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	md := Markdown("diff", []*Report{r}, DefaultMarkdownLimit, "x")
	for _, out := range []string{text.String(), md} {
		if !strings.Contains(out, "REDACTED-") {
			t.Errorf("no redaction tag:\n%s", out)
		}
		for _, secret := range []string{"aHVudGVyMg==", "c3dvcmRmaXNo", "hunter2", "swordfish"} {
			if strings.Contains(out, secret) {
				t.Errorf("shows %q:\n%s", secret, out)
			}
		}
	}
}

func TestColourOnlyWhereAsked(t *testing.T) {
	r := manyChanges(t, 1)
	var plain, colour bytes.Buffer
	if err := r.WriteText(&plain, PlainText, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&colour, Colour, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b") || !strings.Contains(colour.String(), "\x1b[31m      - data.k: \"old\"\x1b[0m") {
		t.Errorf("plain %q\ncolour %q", plain.String(), colour.String())
	}
	// Text from the repository cannot bring its own terminal sequences.
	var out bytes.Buffer
	if err := Colour(&out, Plain, "name\x1b[2J"); err != nil || strings.Contains(out.String(), "\x1b[2J") {
		t.Errorf("escape sequence passed through: %q", out.String())
	}
}

func TestIntendedDifferencesAreSummarisedNotListed(t *testing.T) {
	r, err := Compare("local",
		objs(t, "a.yaml", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {env: local, level: debug}}`),
		"cloud",
		objs(t, "b.yaml", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {env: cloud, level: info}}`, `{apiVersion: v1, kind: ServiceAccount, metadata: {name: dns}}`))
	if err != nil {
		t.Fatal(err)
	}
	// As the parity file annotates them: the environment's name and the
	// platform's ServiceAccount are intended, the log level is not.
	for i := range r.Differences {
		d := &r.Differences[i]
		switch d.Object {
		case "ServiceAccount/dns":
			d.Intended = "platform left out"
		case "ConfigMap/c":
			d.IntendedFields = []string{"environment name", ""}
		}
	}
	r.Reasons = []string{"platform left out", "environment name"}
	var text bytes.Buffer
	if err := r.WriteText(&text, PlainText, TextOptions{Contract: "parity.yaml"}); err != nil {
		t.Fatal(err)
	}
	md := Markdown("diff", []*Report{r}, DefaultMarkdownLimit, "x")
	for name, out := range map[string]string{"text": text.String(), "markdown": md} {
		for _, want := range []string{"platform left out: 1 object only in cloud", "environment name: 1 field in 1 object", "~ ConfigMap/c (1 field, 1 intended)", `- data.level: "debug"`, `+ data.level: "info"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, "ServiceAccount/dns") || strings.Contains(out, "data.env") {
			t.Errorf("%s lists an intended difference:\n%s", name, out)
		}
		if strings.Index(out, "platform left out") > strings.Index(out, "environment name") {
			t.Errorf("%s does not keep the parity file's order:\n%s", name, out)
		}
	}
	if !strings.Contains(text.String(), "local → cloud: 1 added, 0 removed, 1 changed; 1 intended, 1 not") {
		t.Errorf("summary:\n%s", text.String())
	}
}
