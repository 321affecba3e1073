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
// build without findings; it reports whether it was. A build with findings
// is never kept: a render stopped by its time bound depends on the
// machine. A nil cache builds.
func BuildTargetCached(ctx context.Context, repoRoot string, t Target, opts Options, cache render.ResultCache) (*Environment, bool, error) {
	if cache == nil {
		e, err := BuildTarget(ctx, repoRoot, t, opts)
		return e, false, err
	}
	key, keyErr := RunKey(buildFormat, repoRoot, []Target{t}, opts)
	if keyErr == nil {
		if data, ok := cache.Get(key); ok {
			if e, err := decodeEnvironment(data); err == nil && len(e.Findings) == 0 {
				return e, true, nil
			}
		}
	}
	e, err := BuildTarget(ctx, repoRoot, t, opts)
	if err != nil || keyErr != nil || ctx.Err() != nil || len(e.Findings) > 0 {
		return e, false, err
	}
	// The inputs must not have changed while the build read them.
	if again, err := RunKey(buildFormat, repoRoot, []Target{t}, opts); err == nil && again == key {
		if data, err := encodeEnvironment(e); err == nil {
			_ = cache.Put(key, data) // a build not stored is only slower next time
		}
	}
	return e, false, nil
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
