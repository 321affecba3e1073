package validate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/resultcache"
)

// countingResults is a result cache that counts its misses and stores;
// builds run side by side, so the counts are atomic.
type countingResults struct {
	c              *resultcache.Cache
	misses, stores atomic.Int64
}

func (c *countingResults) Get(k [sha256.Size]byte) ([]byte, bool) {
	data, ok := c.c.Get(k)
	if !ok {
		c.misses.Add(1)
	}
	return data, ok
}

func (c *countingResults) Put(k [sha256.Size]byte, data []byte) error {
	c.stores.Add(1)
	return c.c.Put(k, data)
}

// TestWarmResultCacheChangesNothing builds and checks every environment
// of this repository without a result cache, with an empty one and with
// the one that run filled: every environment's objects and findings must
// be byte for byte the same, and the warm run must render nothing.
func TestWarmResultCacheChangesNothing(t *testing.T) {
	charts := chartCache(t)
	envs, err := gitops.Environments(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := resultcache.Open(t.TempDir(), resultcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	// output is every environment's build and the checks' findings on it,
	// as JSON: what validate and build print.
	output := func(results *countingResults) string {
		t.Helper()
		opts := gitops.Options{Offline: true, ChartCache: charts, Renders: gitops.NewRenderCache()}
		defer opts.Renders.Close()
		if results != nil {
			opts.Results = results
		}
		c, err := NewChecker()
		if err != nil {
			t.Fatal(err)
		}
		var out []any
		for _, name := range envs {
			e, err := gitops.Build(ctx, repoRoot, name, opts)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Objects, c.CheckEnvironment(ctx, e))
		}
		data, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	uncached := output(nil)
	cold := &countingResults{c: rc}
	if got := output(cold); got != uncached {
		t.Fatal("the environments built with an empty result cache differ from those built without one")
	}
	if cold.stores.Load() == 0 {
		t.Fatal("the first run stored no render: the test proves nothing")
	}
	warm := &countingResults{c: rc}
	if got := output(warm); got != uncached {
		t.Fatal("the environments built with a warm result cache differ from those built without one")
	}
	if n, s := warm.misses.Load(), warm.stores.Load(); n != 0 || s != 0 {
		t.Fatalf("the warm run missed %d renders and stored %d, want none", n, s)
	}
}
