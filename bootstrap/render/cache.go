package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ResultCache stores renders between runs (see bootstrap/resultcache),
// by a digest of everything a render depends on.
type ResultCache interface {
	Get(key [sha256.Size]byte) ([]byte, bool)
	Put(key [sha256.Size]byte, payload []byte) error
}

// cacheFormat versions the render key and the encoding of a cached Result:
// change it whenever either changes, or whenever the renderer changes in a
// way the tool's identity would not show.
const cacheFormat = "gitops-local render v2"

// cacheKey is the digest of everything the render of ch with opts depends
// on: exactly what the render process is sent (the chart with its
// subcharts, every file, template, schema and default value; the release
// name and namespace; the Kubernetes version and API versions; whether
// CRDs are included; the values, with their Go types) and the limits,
// which decide whether a render succeeds. opts has its defaults applied.
// File modification times are left out: no template sees them.
// TestCacheKeyCoversEveryOption fails when Options gains a field this
// leaves out.
func cacheKey(ch *chart.Chart, opts Options) ([sha256.Size]byte, error) {
	var key [sha256.Size]byte
	wc, err := chartToWire(ch)
	if err != nil {
		return key, err
	}
	values, err := toWire(opts.Values)
	if err != nil {
		return key, fmt.Errorf("values%w", err)
	}
	lim := opts.Limits.withDefaults()
	h := &keyHasher{h: sha256.New()}
	h.str(cacheFormat)
	h.chart(wc)
	h.str(opts.ReleaseName)
	h.str(opts.Namespace)
	h.str(opts.KubeVersion)
	h.strs(opts.APIVersions)
	h.bool(opts.ExactAPIVersions)
	h.bool(opts.IncludeCRDs)
	h.value(values)
	h.int(int64(lim.Timeout))
	h.int(lim.MaxManifestBytes)
	h.int(lim.MaxMemoryBytes)
	h.h.Sum(key[:0])
	return key, nil
}

// ValuesDigest is a digest of values that tells apart what templates tell
// apart: a value's Go type as well as its text (int64(1000000) prints as
// 1000000, float64(1000000) as 1e+06), unlike a digest of their JSON.
func ValuesDigest(values map[string]any) (string, error) {
	w, err := toWire(values)
	if err != nil {
		return "", fmt.Errorf("values%w", err)
	}
	h := &keyHasher{h: sha256.New()}
	h.value(w)
	return hex.EncodeToString(h.h.Sum(nil)), nil
}

// keyHasher writes values to a hash with one encoding per sequence of
// values: every field is typed or length-prefixed.
type keyHasher struct {
	h   hash.Hash
	buf [9]byte
}

func (k *keyHasher) int(n int64) {
	binary.BigEndian.PutUint64(k.buf[:8], uint64(n))
	k.h.Write(k.buf[:8])
}

func (k *keyHasher) bool(b bool) {
	if b {
		k.int(1)
	} else {
		k.int(0)
	}
}

func (k *keyHasher) bytes(p []byte) {
	k.int(int64(len(p)))
	k.h.Write(p)
}

func (k *keyHasher) str(s string) {
	k.int(int64(len(s)))
	k.h.Write([]byte(s))
}

func (k *keyHasher) strs(ss []string) {
	k.int(int64(len(ss)))
	for _, s := range ss {
		k.str(s)
	}
}

func (k *keyHasher) files(fs []*common.File) {
	k.int(int64(len(fs)))
	for _, f := range fs {
		if f == nil {
			k.int(-1)
			continue
		}
		k.str(f.Name)
		k.bytes(f.Data)
	}
}

func (k *keyHasher) chart(c *wireChart) {
	k.bytes(c.Metadata)
	k.bytes(c.Lock)
	k.files(c.Raw)
	k.files(c.Templates)
	k.files(c.Files)
	k.value(c.Values)
	k.bytes(c.Schema)
	k.int(int64(len(c.Deps)))
	for _, d := range c.Deps {
		k.chart(d)
	}
}

func (k *keyHasher) value(w wireValue) {
	k.int(int64(w.K))
	switch w.K {
	case wireBool:
		k.bool(w.B)
	case wireString:
		k.str(w.S)
	case wireInt, wireInt64, wireInt32:
		k.int(w.I)
	case wireUint64:
		k.int(int64(w.U))
	case wireFloat64, wireFloat32:
		k.int(int64(math.Float64bits(w.F)))
	case wireMap, wireValues, wireStringMap:
		k.strs(w.Keys)
		for _, e := range w.L {
			k.value(e)
		}
	case wireList:
		k.int(int64(len(w.L)))
		for _, e := range w.L {
			k.value(e)
		}
	case wireStrings:
		k.bool(w.SS == nil)
		k.strs(w.SS)
	}
}

// encodeResult is res as a cache entry: the render process's own encoding,
// which keeps the values' Go types.
func encodeResult(res *Result) ([]byte, error) {
	wr, err := resultToWire(res)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(wr); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeResult reads a cache entry written by encodeResult.
func decodeResult(data []byte) (*Result, error) {
	var wr wireResult
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&wr); err != nil {
		return nil, err
	}
	return resultFromWire(&wr)
}

// CacheKey is the digest of everything the render of ch with opts depends
// on, the key under which Render caches it (see Options.Cache): callers
// caching what they derive from a render alone key it by this.
func CacheKey(ch *chart.Chart, opts Options) ([sha256.Size]byte, error) {
	if ch == nil || ch.Metadata == nil {
		return [sha256.Size]byte{}, errors.New("render chart: no chart given")
	}
	return cacheKey(ch, withRenderDefaults(ch, opts))
}

// EncodeObjects encodes objs for a cache entry, keeping their values' Go
// types (see wireobjects.go).
func EncodeObjects(objs []*unstructured.Unstructured) ([]byte, error) {
	return encodeObjects(nil, objs)
}

// DecodeObjects decodes what EncodeObjects encoded.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	return decodeObjectsWire(data)
}
