package parity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/diff"
	"github.com/leynos/gitops-local/bootstrap/manifest"
)

const header = "apiVersion: gitops-local/v1alpha1\nkind: Parity\n"

func TestParseRefusesWhatItDoesNotKnow(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown top-level field":   {header + "environment: x\n", `unknown field "environment"`},
		"unknown declaration field": {header + "environments: [{name: e, differences: [{reason: r, field: a, namespace: x}]}]\n", `unknown field "namespace"`},
		"other apiVersion":          {"apiVersion: gitops-local/v2\nkind: Parity\n", "want apiVersion gitops-local/v1alpha1"},
		"glob character":            {header + "environments: [{name: e, differences: [{reason: r, field: 'spec.?'}]}]\n", `differences[0]: field: "spec.?": '?' is not a pattern character`},
		"regular expression":        {header + "environments: [{name: e, differences: [{reason: r, name: 'a|b', only: cloud}]}]\n", `name: "a|b"`},
		"double star":               {header + "environments: [{name: e, differences: [{reason: r, field: 'spec.**'}]}]\n", `"**" is not a pattern`},
		"unknown side":              {header + "environments: [{name: e, differences: [{reason: r, only: both}]}]\n", `only: "both": want local or cloud`},
		"field on a whole object":   {header + "environments: [{name: e, differences: [{reason: r, only: local, field: spec}]}]\n", "about whole objects"},
		"nothing declared":          {header + "environments: [{name: e, differences: [{reason: r, kind: Deployment}]}]\n", "field: empty"},
		"no reason":                 {header + "environments: [{name: e, differences: [{field: spec}]}]\n", "reason: empty"},
		"bad owner":                 {header + "environments: [{name: e, differences: [{reason: r, field: spec, owner: flux-system/x}]}]\n", "want Kustomization/NAMESPACE/NAME"},
		"environment twice":         {header + "environments: [{name: e}, {name: e}]\n", "environments[1].name: e is declared twice"},
		"two documents":             {header + "---\n" + header, "more than one YAML document"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(root, filepath.FromSlash(File))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(header+"bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root); err == nil || !strings.HasPrefix(err.Error(), File+": ") {
		t.Errorf("error does not name %s: %v", File, err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"", "anything", true},
		{"ghillie", "ghillie", true},
		{"ghillie", "ghillie-db", false},
		{"ghillie-*", "ghillie-db", true},
		{"*-db", "ghillie-db", true},
		{"*resources.*", "spec.template.spec.containers[0].resources.limits.memory", true},
		{"spec.values.image.*", "spec.values.imagePullSecrets", false},
		{"a*a", "a", false},
		{"a*b*c", "abbc", true},
		{"containers[0].image", "containers[0].image", true},
	} {
		if got := match(tc.p, tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func objects(t *testing.T, kustomization string, docs ...string) []manifest.Object {
	t.Helper()
	var out []manifest.Object
	for _, d := range docs {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, manifest.Object{Unstructured: &unstructured.Unstructured{Object: m}, Origin: manifest.Origin{Kustomization: kustomization}})
	}
	return out
}

func TestCheckBothWays(t *testing.T) {
	local := objects(t, "flux-system/app",
		`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: a}, spec: {replicas: 1, template: {spec: {containers: [{name: web, image: "web:local"}]}}}}`,
	)
	cloud := append(objects(t, "flux-system/app",
		`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: b}, spec: {replicas: 3, template: {spec: {containers: [{name: web, image: "web:sha-1"}]}}}}`,
	), objects(t, "flux-system/platform-dns",
		`{apiVersion: v1, kind: ServiceAccount, metadata: {name: dns, namespace: dns}}`,
	)...)
	r, err := diff.Compare("local", local, "cloud", cloud)
	if err != nil {
		t.Fatal(err)
	}
	decls := []Declaration{
		{Reason: "image", Kind: "Deployment", Field: "spec.template.spec.containers[*].image"},
		{Reason: "replicas", Kind: "apps/Deployment", Field: "spec.replicas"},
		{Reason: "dns left out", Only: OnlyCloud, Owner: "Kustomization/flux-system/platform-dns"},
	}
	if res := Check(decls, r); !res.OK() || len(res.Intended) != 3 {
		t.Fatalf("every difference is declared, got %+v", res)
	}

	// Drift: a difference nobody declared fails, printed with its values.
	res := Check(decls[:2], r)
	if res.OK() || len(res.Undeclared) != 1 || res.Undeclared[0].Object != "ServiceAccount/dns" {
		t.Fatalf("undeclared ServiceAccount not reported: %+v", res)
	}
	res = Check(decls[1:], r)
	if len(res.Undeclared) != 1 || res.Undeclared[0].Field != "spec.template.spec.containers[0].image" {
		t.Fatalf("undeclared image not reported: %+v", res)
	}
	if text := res.Text(); !strings.Contains(text, `undeclared: apps/Deployment/web: spec.template.spec.containers[0].image: "web:local" → "web:sha-1"`) {
		t.Errorf("text:\n%s", text)
	}

	// Stale: a declaration matching nothing fails, so the file stays true.
	stale := append(decls, Declaration{Reason: "log level", Kind: "ConfigMap", Field: "data.LOG_LEVEL"})
	res = Check(stale, r)
	if res.OK() || len(res.Stale) != 1 || res.Stale[0].Reason != "log level" || len(res.Undeclared) != 0 {
		t.Fatalf("stale declaration not reported: %+v", res)
	}
	if text := res.Text(); !strings.Contains(text, `stale: "log level" (kind ConfigMap, field data.LOG_LEVEL) matches no difference between local and cloud`) {
		t.Errorf("text:\n%s", text)
	}

	// A whole-object declaration is about one side: the same objects only
	// in local are not covered by an only: cloud declaration.
	back, err := diff.Compare("local", cloud, "cloud", local)
	if err != nil {
		t.Fatal(err)
	}
	if res := Check(decls, back); len(res.Undeclared) != 1 || res.Undeclared[0].Status != diff.OnlyInA {
		t.Errorf("only: cloud covered an object only local has: %+v", res)
	}
}
