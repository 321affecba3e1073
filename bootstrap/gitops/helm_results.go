package gitops

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// releaseFormat versions releaseKey and the encoding of a cached release.
const releaseFormat = "gitops-local helm release v2"

// releaseKey is the digest of everything renderHelmRelease returns for hr
// once its chart lc and first render options ropts are known: the render
// (render.CacheKey: the chart and every render input; the second render,
// with the chart's own CRDs among the API versions, follows from it), the
// HelmRelease itself, which post-rendering, the CRD policy, the hooks and
// the objects' labels read (every field, with its Go type), the
// Kustomization applying it, and the chart's folder, which names the
// templates of the repository's own charts. What the code does with them
// is in the tool's identity, part of every result cache key.
func releaseKey(lc *loadedChart, ropts render.Options, hr manifest.Object) ([sha256.Size]byte, error) {
	var key [sha256.Size]byte
	rk, err := render.CacheKey(lc.chart, ropts)
	if err != nil {
		return key, err
	}
	obj, err := render.ValuesDigest(hr.Object)
	if err != nil {
		return key, err
	}
	h := sha256.New()
	for _, f := range []string{releaseFormat, string(rk[:]), obj, hr.Origin.Kustomization, lc.dir} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	h.Sum(key[:0])
	return key, nil
}

// cachedRelease is a release's objects as a result cache entry.
type cachedRelease struct {
	Objects []byte // render.EncodeObjects
	Origins []manifest.Origin
}

// cachedRelease returns the objects stored for key, if any decode.
func (b *builder) cachedRelease(key [sha256.Size]byte) ([]manifest.Object, bool) {
	data, ok := b.opts.Results.Get(key)
	if !ok {
		return nil, false
	}
	var e cachedRelease
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&e); err != nil {
		return nil, false
	}
	objs, err := render.DecodeObjects(e.Objects)
	if err != nil || len(objs) != len(e.Origins) {
		return nil, false
	}
	if len(objs) == 0 {
		return nil, true
	}
	out := make([]manifest.Object, len(objs))
	for i, o := range objs {
		out[i] = manifest.Object{Unstructured: o, Origin: e.Origins[i]}
	}
	return out, true
}

// storeRelease stores a release's objects under key. A release that cannot
// be encoded or stored is rendered again next time.
func (b *builder) storeRelease(key [sha256.Size]byte, out []manifest.Object) {
	e := cachedRelease{Origins: make([]manifest.Origin, len(out))}
	objs := make([]*unstructured.Unstructured, 0, len(out))
	for i, o := range out {
		e.Origins[i] = o.Origin
		objs = append(objs, o.Unstructured)
	}
	var err error
	if e.Objects, err = render.EncodeObjects(objs); err != nil {
		return
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&e); err != nil {
		return
	}
	_ = b.opts.Results.Put(key, buf.Bytes())
}
