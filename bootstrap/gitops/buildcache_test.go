package gitops

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// environmentJSON is e as the build command prints it, with origins.
func environmentJSON(t *testing.T, e *Environment) string {
	t.Helper()
	type obj struct {
		Object map[string]any
		Origin any
	}
	var objs []obj
	for _, o := range e.Objects {
		objs = append(objs, obj{o.Object, o.Origin})
	}
	data, err := json.Marshal(map[string]any{"name": e.Name, "vars": e.Vars, "objects": objs, "crds": e.CRDs, "fixtures": len(e.Fixtures)})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestBuildTargetCachedIsTheBuild: a build read back from the cache is the
// build, object for object with its origin; an edit builds again; a build
// with findings is never kept.
func TestBuildTargetCachedIsTheBuild(t *testing.T) {
	root := copyDir(t, "testdata/repos/generator")
	target := Target{Path: "clusters/dev"}
	ctx := context.Background()
	cache := &testutil.CountingCache{}
	want, err := BuildTarget(ctx, root, target, Options{Offline: true})
	if err != nil || len(want.Findings) > 0 {
		t.Fatalf("build: %v %v", err, want)
	}
	for i, wantCached := range []bool{false, true, true} {
		got, cached, err := BuildTargetCached(ctx, root, target, Options{Offline: true}, cache)
		if err != nil {
			t.Fatal(err)
		}
		if cached != wantCached {
			t.Fatalf("run %d: cached %t, want %t", i, cached, wantCached)
		}
		if environmentJSON(t, got) != environmentJSON(t, want) {
			t.Fatalf("run %d: the build differs from an uncached one", i)
		}
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Fatalf("run %d: findings %v", i, got.Findings)
		}
	}
	testutil.Edit(t, root, "clusters/dev/greeter.yaml", "greeting: hi", "greeting: hey")
	if _, cached, _ := BuildTargetCached(ctx, root, target, Options{Offline: true}, cache); cached {
		t.Error("an edited tree was read from the cache")
	}
	testutil.Edit(t, root, "clusters/dev/greeter.yaml", "name: greeter-chart", "name: missing")
	before := cache.Len()
	for range 2 {
		e, cached, err := BuildTargetCached(ctx, root, target, Options{Offline: true}, cache)
		if err != nil || cached || len(e.Findings) == 0 {
			t.Fatalf("cached %t, findings %v, err %v: want a build with findings", cached, e.Findings, err)
		}
	}
	if cache.Len() != before {
		t.Error("a build with findings was kept")
	}
}
