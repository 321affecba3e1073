package manifest

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestFindingString(t *testing.T) {
	f := Finding{Environment: "local", File: "overlays/local/patch.yaml", Line: 7, Object: "HelmRelease/ghillie/ghillie", Field: "spec.values.image.tagg", Message: "unknown field"}
	want := "overlays/local/patch.yaml:7: [local] HelmRelease/ghillie/ghillie: spec.values.image.tagg: unknown field"
	if got := f.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := (Finding{File: "a.yaml", Message: "bad"}).String(); got != "a.yaml: bad" {
		t.Errorf("minimal finding = %q", got)
	}
}

func TestObjectIdentity(t *testing.T) {
	mk := func(apiVersion, kind, ns, name string) Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		return Object{Unstructured: u}
	}
	a := mk("apps/v1", "Deployment", "ghillie", "ghillie")
	b := mk("apps/v1beta2", "Deployment", "ghillie", "ghillie")
	c := mk("v1", "Service", "ghillie", "ghillie")
	if a.ID() != b.ID() {
		t.Errorf("same group/kind/name in two versions must collide: %q vs %q", a.ID(), b.ID())
	}
	if a.ID() == c.ID() {
		t.Errorf("different kinds must not collide: %q", a.ID())
	}
	if got := mk("v1", "Namespace", "", "ghillie").Ref(); got != "Namespace/ghillie" {
		t.Errorf("cluster-scoped ref = %q", got)
	}
}

func TestSortFindings(t *testing.T) {
	fs := []Finding{{File: "b", Line: 1}, {File: "a", Line: 9}, {File: "a", Line: 2}, {Environment: "z", File: "a"}}
	SortFindings(fs)
	got := []string{fs[0].File, fs[1].File, fs[2].File, fs[3].Environment}
	if fs[0].Line != 2 || fs[1].Line != 9 || fs[2].File != "b" || fs[3].Environment != "z" {
		t.Errorf("unexpected order: %+v (%v)", fs, got)
	}
}
