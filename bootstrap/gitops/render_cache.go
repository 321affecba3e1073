package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/render"
)

// RenderCache remembers chart renders, so that building several environments
// in one run renders each (chart, release, values) once: the platform
// charts are the same in most environments. Share one cache across the
// builds of one run only; it never expires.
type RenderCache struct {
	mu sync.Mutex
	m  map[string]*render.Result
}

// NewRenderCache returns an empty cache.
func NewRenderCache() *RenderCache { return &RenderCache{m: map[string]*render.Result{}} }

// renderKey identifies a render: the chart (name, version and, for the
// repository's own charts, directory), the release and a digest of values.
func renderKey(lc *loadedChart, opts render.Options) (string, error) {
	values, err := json.Marshal(opts.Values)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(values)
	return fmt.Sprintf("%s|%s|%s|%s|%s|%t|%s|%s", lc.chart.Name(), lc.chart.Metadata.Version, lc.dir,
		opts.ReleaseName, opts.Namespace, opts.IncludeCRDs, opts.KubeVersion, hex.EncodeToString(sum[:])), nil
}

// get returns a deep copy of a cached result, so callers may change it.
func (c *RenderCache) get(key string) (*render.Result, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return copyResult(r), true
}

func (c *RenderCache) put(key string, r *render.Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.m[key] = copyResult(r)
	c.mu.Unlock()
}

func copyResult(r *render.Result) *render.Result {
	cp := *r
	cp.Objects = copyObjects(r.Objects)
	cp.CRDs = copyObjects(r.CRDs)
	cp.Hooks = copyObjects(r.Hooks)
	return &cp
}

func copyObjects(in []*unstructured.Unstructured) []*unstructured.Unstructured {
	if in == nil {
		return nil
	}
	out := make([]*unstructured.Unstructured, len(in))
	for i, o := range in {
		out[i] = o.DeepCopy()
	}
	return out
}
