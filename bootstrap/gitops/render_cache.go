package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// RenderCache shares work between the builds of one run, so that building
// several environments renders each (chart, release, values) once and
// loads each chart archive once: the platform charts are the same in most
// environments. Everything in it is keyed by content (a chart by the digest
// of its files, a render by its chart's digest and a digest of its values),
// never by a path alone. The builds also share one working copy of the
// repository, taken when the first build starts: call Close when the run's
// builds are done to remove it. Renders outlive Close, so a cache may be
// shared by successive runs (a watch's rounds) as long as each run ends
// with Close: the next run then takes a fresh working copy. It never
// expires. It is safe for concurrent use.
type RenderCache struct {
	renders flight[*renderEntry]
	charts  flight[*loadedChart]
	digests flight[string]    // the OCI digest of a repository chart, by its files' digest
	trees   flight[*workTree] // by what they copy (see builder.newTree)

	crdMu sync.Mutex
	crds  map[string][]crdEntry // by CRD name
}

// tree returns the working copy named key that the builds of the run
// share, made by newTree for the first build that asks.
func (c *RenderCache) tree(ctx context.Context, key string, newTree func() (*workTree, error)) (*workTree, error) {
	return c.trees.do(ctx, key, newTree)
}

// Close removes the working copies the builds of a run shared; the next
// build takes a new one, so it sees the files as they are then. Renders are
// kept. No build of the run may still be going on.
func (c *RenderCache) Close() error {
	if c == nil {
		return nil
	}
	c.forgetLimitFailures()
	c.trees.mu.Lock()
	defer c.trees.mu.Unlock()
	var errs []error
	for root, call := range c.trees.m {
		select {
		case <-call.done:
		default:
			continue // still being copied: a build is using the cache
		}
		if call.err == nil {
			if err := os.RemoveAll(call.v.dir); err != nil {
				errs = append(errs, err)
			}
		}
		delete(c.trees.m, root)
	}
	return errors.Join(errs...)
}

// forgetLimitFailures drops the renders stopped by their limits, so that
// the next run tries them again (the time a render takes depends on the
// machine's load too).
func (c *RenderCache) forgetLimitFailures() {
	c.renders.mu.Lock()
	defer c.renders.mu.Unlock()
	for key, call := range c.renders.m {
		select {
		case <-call.done:
			if call.err == nil && call.v.err != nil {
				delete(c.renders.m, key)
			}
		default:
		}
	}
}

// renderEntry is a cached render and what is derived from its manifest.
type renderEntry struct {
	// err is set, and nothing else, for a render stopped by its limits.
	err error
	res *render.Result
	// sources is resultSources(res); read-only once stored.
	sources map[string]string
}

// NewRenderCache returns an empty cache.
func NewRenderCache() *RenderCache { return &RenderCache{} }

// renderKey identifies a render: the chart (name, version, directory for
// the repository's own charts, and the digest of its files), the release
// and a digest of values that tells their Go types apart.
func renderKey(lc *loadedChart, opts render.Options) (string, error) {
	values, err := render.ValuesDigest(opts.Values)
	if err != nil {
		return "", err
	}
	apis := sha256.Sum256([]byte(strings.Join(opts.APIVersions, "\n")))
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%t|%s|%s|%s|%t", lc.chart.Name(), lc.chart.Metadata.Version, lc.dir, lc.digest,
		opts.ReleaseName, opts.Namespace, opts.IncludeCRDs, opts.KubeVersion, values, hex.EncodeToString(apis[:]), opts.ExactAPIVersions), nil
}

// render returns the render of key, calling fn for it unless another build
// has rendered it or is rendering it (then it waits for that one). A failed
// render is not remembered: each caller meets the failure itself; except a
// render stopped by its limits (render.ErrLimit), which would take as long
// again for each build waiting on it: that failure is remembered until
// Close, the end of the run. The result is the caller's own (the render, or
// a deep copy of it), which it may change.
func (c *RenderCache) render(ctx context.Context, key string, fn func() (*render.Result, error)) (*render.Result, map[string]string, error) {
	if c == nil {
		res, err := fn()
		if err != nil {
			return nil, nil, err
		}
		return res, resultSources(res), nil
	}
	// The build that renders keeps its own result; the cache keeps a copy
	// for the builds that come later.
	var own *render.Result
	e, err := c.renders.do(ctx, key, func() (*renderEntry, error) {
		res, err := fn()
		if errors.Is(err, render.ErrLimit) {
			return &renderEntry{err: err}, nil
		}
		if err != nil {
			return nil, err
		}
		own = res
		return &renderEntry{res: copyResult(res), sources: resultSources(res)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if e.err != nil {
		return nil, nil, e.err
	}
	if own != nil {
		return own, e.sources, nil
	}
	return copyResult(e.res), e.sources, nil
}

// flight maps keys to values computed once: the first caller of a key
// computes it while later callers wait for it. A computation that fails is
// forgotten, and a caller that waited on it computes the value itself.
type flight[V any] struct {
	mu sync.Mutex
	m  map[string]*call[V]
}

type call[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// do returns the value of key, computing it with fn if no other caller has.
// It returns fn's error when fn failed, and ctx's when ctx ended while
// waiting for another caller.
func (f *flight[V]) do(ctx context.Context, key string, fn func() (V, error)) (V, error) {
	for {
		f.mu.Lock()
		if f.m == nil {
			f.m = map[string]*call[V]{}
		}
		c, found := f.m[key]
		if !found {
			c = &call[V]{done: make(chan struct{})}
			f.m[key] = c
		}
		f.mu.Unlock()
		if !found {
			c.v, c.err = fn()
			if c.err != nil {
				f.mu.Lock()
				delete(f.m, key)
				f.mu.Unlock()
			}
			close(c.done)
			return c.v, c.err
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if c.err == nil {
			return c.v, nil
		}
		// The other caller failed: try ourselves, as if alone.
	}
}

// resultSources maps "Kind/name" of each object and hook of a render to
// its template path (see templateSources).
func resultSources(res *render.Result) map[string]string {
	return templateSources(res.Manifest + res.HookManifest)
}

func copyResult(r *render.Result) *render.Result {
	cp := *r
	cp.Objects = copyObjects(r.Objects)
	cp.CRDs = copyObjects(r.CRDs)
	cp.Hooks = copyObjects(r.Hooks)
	cp.TestHooks = copyObjects(r.TestHooks)
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

// crdEntry is a converted CustomResourceDefinition and a copy of the object
// it was converted from.
type crdEntry struct {
	obj map[string]any
	crd *apiextensionsv1.CustomResourceDefinition
}

// crd converts a CustomResourceDefinition object, or returns the conversion
// of an equal object made earlier in the run: most environments install the
// same CRDs, and converting them is a large part of a build. The result is
// shared by every build of the run and must not be modified.
func (c *RenderCache) crd(o *unstructured.Unstructured) (*apiextensionsv1.CustomResourceDefinition, error) {
	if c == nil {
		return convertCRD(o)
	}
	name := o.GetName()
	c.crdMu.Lock()
	entries := c.crds[name]
	c.crdMu.Unlock()
	for _, e := range entries {
		if manifest.EqualJSON(e.obj, o.Object) {
			return e.crd, nil
		}
	}
	crd, err := convertCRD(o)
	if err != nil {
		return nil, err
	}
	c.crdMu.Lock()
	defer c.crdMu.Unlock()
	if c.crds == nil {
		c.crds = map[string][]crdEntry{}
	}
	c.crds[name] = append(c.crds[name], crdEntry{obj: runtime.DeepCopyJSON(o.Object), crd: crd})
	return crd, nil
}

func convertCRD(o *unstructured.Unstructured) (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crd); err != nil {
		return nil, err
	}
	return crd, nil
}
