package diff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

func objs(t *testing.T, file string, docs ...string) []manifest.Object {
	t.Helper()
	var out []manifest.Object
	for i, d := range docs {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, manifest.Object{Unstructured: &unstructured.Unstructured{Object: m}, Origin: manifest.Origin{File: file, Line: i + 1}})
	}
	return out
}

func TestCompare(t *testing.T) {
	a := objs(t, "a.yaml",
		`{apiVersion: v1, kind: Namespace, metadata: {name: ghillie}}`,
		`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: ghillie}, spec: {replicas: 1, template: {spec: {containers: [{name: web, image: "web:local"}]}}}}`,
		`{apiVersion: v1, kind: Service, metadata: {name: web, namespace: ghillie}, spec: {ports: [{port: 80}]}}`,
		`{apiVersion: hyperspike.io/v1, kind: Valkey, metadata: {name: cache, namespace: ghillie}, spec: {nodes: 1}}`,
	)
	b := objs(t, "b.yaml",
		`{apiVersion: v1, kind: Namespace, metadata: {name: pr-1}}`,
		`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: pr-1, labels: {a: b}}, spec: {replicas: 2, template: {spec: {containers: [{name: web, image: "web:sha-1"}]}}}}`,
		`{apiVersion: v1, kind: Service, metadata: {name: web, namespace: pr-1}, spec: {ports: [{port: 80.0}]}}`,
		`{apiVersion: hyperspike.io/v1, kind: Valkey, metadata: {name: cache, namespace: pr-1}, spec: {nodes: 1}}`,
	)
	r, err := Compare("local", a, "ephemeral/pr-1", b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Difference{}
	for _, d := range r.Differences {
		got[d.Object] = d
	}
	if len(got) != 3 {
		t.Fatalf("want 3 differences (two namespaces, one deployment), got %+v", r.Differences)
	}
	if got["Namespace/ghillie"].Status != OnlyInA || got["Namespace/pr-1"].Status != OnlyInB {
		t.Errorf("namespaces: %+v", got)
	}
	d := got["apps/Deployment/web"]
	if d.Status != Changed || d.A.Namespace != "ghillie" || d.B.Namespace != "pr-1" {
		t.Fatalf("deployment: %+v", d)
	}
	paths := []string{}
	for _, f := range d.Fields {
		paths = append(paths, f.Path)
	}
	want := "metadata.labels spec.replicas spec.template.spec.containers[0].image"
	if strings.Join(paths, " ") != want {
		t.Errorf("fields %q, want %q", paths, want)
	}
	for _, line := range []string{"-  replicas: 1", "+  replicas: 2", "--- local/apps/Deployment/web", "+++ ephemeral/pr-1/apps/Deployment/web"} {
		if !strings.Contains(d.Unified, line) {
			t.Errorf("unified diff lacks %q:\n%s", line, d.Unified)
		}
	}
	text := r.Text()
	for _, line := range []string{"only in local: Namespace/ghillie (a.yaml:1)", "only in ephemeral/pr-1: Namespace/pr-1 (b.yaml:1)", "changed: apps/Deployment/web (3 fields)"} {
		if !strings.Contains(text, line) {
			t.Errorf("text lacks %q:\n%s", line, text)
		}
	}
	same, err := Compare("x", a, "y", a)
	if err != nil || !same.Equal() {
		t.Errorf("an environment differs from itself: %+v %v", same, err)
	}
}

func TestSameNameInTwoNamespaces(t *testing.T) {
	a := objs(t, "a.yaml",
		`{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns1}, data: {k: "1"}}`,
		`{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns2}, data: {k: "2"}}`,
	)
	b := objs(t, "b.yaml", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns3}, data: {k: "1"}}`)
	r, err := Compare("a", a, "b", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != 1 || r.Differences[0].Object != "ConfigMap/c#2" || r.Differences[0].Status != OnlyInA {
		t.Errorf("got %+v", r.Differences)
	}
}

func TestMaterialize(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	ctx := context.Background()
	repo := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(repo, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	write("gitops/a.yaml", "one\n")
	write("overlays/local/k.yaml", "k\n")
	write("other/x", "x\n")
	run("add", ".")
	run("commit", "-q", "-m", "one")
	write("gitops/a.yaml", "two\n")
	run("commit", "-q", "-am", "two")

	dir, cleanup, err := Materialize(ctx, repo, "HEAD~1", manifest.PublishedDirs)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "gitops/a.yaml")); err != nil || string(b) != "one\n" {
		t.Errorf("gitops/a.yaml at HEAD~1 = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "overlays/local/k.yaml")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); !os.IsNotExist(err) {
		t.Errorf("other/ was extracted: %v", err)
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind", dir)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "gitops/a.yaml")); string(b) != "two\n" {
		t.Errorf("working tree changed: %q", b)
	}
	if _, _, err := Materialize(ctx, repo, "no-such-ref", manifest.PublishedDirs); err == nil || !errors.Is(err, ErrNoRef) || !strings.Contains(err.Error(), `"no-such-ref" is not a branch, tag or commit`) {
		t.Errorf("bad ref: %v", err)
	}
	if _, _, err := Materialize(ctx, t.TempDir(), "HEAD", nil); err == nil || !strings.Contains(err.Error(), "is not a git repository") {
		t.Errorf("not a repository: %v", err)
	}
	if _, _, err := Materialize(ctx, repo, "--output=x", nil); err == nil {
		t.Error("a ref that looks like an option was accepted")
	}
}

func TestSecretsRedactedAndOwnerNamespaceIgnored(t *testing.T) {
	a := objs(t, "a.yaml",
		`{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: ns1}, data: {same: c2FtZQ==, pw: aHVudGVyMg==}}`,
		`{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns1, labels: {helm.toolkit.fluxcd.io/namespace: ns1, app: x}}}`,
	)
	b := objs(t, "b.yaml",
		`{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: ns2}, data: {same: c2FtZQ==, pw: c3dvcmRmaXNo}}`,
		`{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns2, labels: {helm.toolkit.fluxcd.io/namespace: ns2, app: x}}}`,
	)
	r, err := Compare("a", a, "b", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != 1 || r.Differences[0].Object != "Secret/s" {
		t.Fatalf("want only the Secret to differ, got %+v", r.Differences)
	}
	d := r.Differences[0]
	if len(d.Fields) != 1 || d.Fields[0].Path != "data.pw" {
		t.Fatalf("fields %+v, want data.pw only", d.Fields)
	}
	out := r.Text() + fmt.Sprint(d.Fields)
	for _, secret := range []string{"aHVudGVyMg==", "c3dvcmRmaXNo", "c2FtZQ==", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("report shows a secret value %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(d.Unified, "REDACTED-") {
		t.Errorf("no redaction tag in:\n%s", d.Unified)
	}
}
