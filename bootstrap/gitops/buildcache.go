package gitops

import (
	"context"
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// buildFormat versions the key and encoding of a cached build.
const buildFormat = "gitops-local build v1"

// BuildTargetCached is BuildTarget, with the environment read from cache
// instead when everything the build reads (RunKey) is as in an earlier
// build without findings; it reports whether it was. A nil cache builds.
func BuildTargetCached(ctx context.Context, repoRoot string, t Target, opts Options, cache render.ResultCache) (*Environment, bool, error) {
	return CachedRun(ctx, cache, RunSpec[*Environment]{
		What: buildFormat, RepoRoot: repoRoot, Targets: []Target{t}, Options: opts,
		Run:    func() (*Environment, error) { return BuildTarget(ctx, repoRoot, t, opts) },
		Clean:  func(e *Environment) bool { return len(e.Findings) == 0 },
		Encode: encodeEnvironment,
		Decode: decodeEnvironment,
	})
}

// RunSpec is a run CachedRun may reuse: what it is (a format name, part of
// its key), everything it reads, how to run it, which results may be
// kept, and their encoding.
type RunSpec[T any] struct {
	What     string
	RepoRoot string
	Targets  []Target
	Options  Options
	Run      func() (T, error)
	Clean    func(T) bool
	Encode   func(T) ([]byte, error)
	Decode   func([]byte) (T, error)
}

// CachedRun runs spec, or reads its result from cache when everything the
// run reads (RunKey) is as in an earlier run whose result was clean; it
// reports whether it did. Only clean results are kept (a finding can come
// from a render stopped by its time bound, which depends on the machine),
// and only when the inputs did not change while the run read them. A nil
// cache runs.
func CachedRun[T any](ctx context.Context, cache render.ResultCache, spec RunSpec[T]) (T, bool, error) {
	if cache == nil {
		r, err := spec.Run()
		return r, false, err
	}
	key, keyErr := RunKey(spec.What, spec.RepoRoot, spec.Targets, spec.Options)
	if keyErr == nil {
		if data, ok := cache.Get(key); ok {
			if r, err := spec.Decode(data); err == nil && spec.Clean(r) {
				return r, true, nil
			}
		}
	}
	// An input that cannot be read is for the run to report.
	r, err := spec.Run()
	if err != nil || keyErr != nil || ctx.Err() != nil || !spec.Clean(r) {
		return r, false, err
	}
	if again, err := RunKey(spec.What, spec.RepoRoot, spec.Targets, spec.Options); err == nil && again == key {
		if data, err := spec.Encode(r); err == nil {
			_ = cache.Put(key, data) // a result not stored is only slower next time
		}
	}
	return r, false, nil
}

// cachedEnvironment is an Environment as the cache holds it: objects with
// their origins (manifest.Object's JSON would be the object alone).
type cachedEnvironment struct {
	Name     string
	Vars     map[string]string
	Objects  []cachedObject
	CRDs     []*apiextensionsv1.CustomResourceDefinition
	Findings []manifest.Finding
	Fixtures []cachedObject
}

type cachedObject struct {
	Object json.RawMessage
	Origin manifest.Origin
}

func encodeEnvironment(e *Environment) ([]byte, error) {
	enc := func(objs []manifest.Object) ([]cachedObject, error) {
		out := make([]cachedObject, len(objs))
		for i, o := range objs {
			raw, err := o.MarshalJSON()
			if err != nil {
				return nil, err
			}
			out[i] = cachedObject{Object: raw, Origin: o.Origin}
		}
		return out, nil
	}
	c := cachedEnvironment{Name: e.Name, Vars: e.Vars, CRDs: e.CRDs, Findings: e.Findings}
	var err error
	if c.Objects, err = enc(e.Objects); err != nil {
		return nil, err
	}
	if c.Fixtures, err = enc(e.Fixtures); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

func decodeEnvironment(data []byte) (*Environment, error) {
	var c cachedEnvironment
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	dec := func(objs []cachedObject) ([]manifest.Object, error) {
		if objs == nil {
			return nil, nil
		}
		out := make([]manifest.Object, len(objs))
		for i, o := range objs {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(o.Object); err != nil {
				return nil, err
			}
			out[i] = manifest.Object{Unstructured: u, Origin: o.Origin}
		}
		return out, nil
	}
	e := &Environment{Name: c.Name, Vars: c.Vars, CRDs: c.CRDs, Findings: c.Findings}
	var err error
	if e.Objects, err = dec(c.Objects); err != nil {
		return nil, err
	}
	if e.Fixtures, err = dec(c.Fixtures); err != nil {
		return nil, err
	}
	return e, nil
}
