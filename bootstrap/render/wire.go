package render

import (
	"encoding/json"
	"fmt"
	"sort"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// This file carries a render's input and output between Render and the
// child process (see child.go) with encoding/gob. Values keep their exact Go
// types: templates see an int64 and a float64 differently (1e+06 is how
// text/template prints float64(1000000)), and chart defaults decode as
// float64 while HelmRelease values decode as int64.

// wireKind is the Go type of a wireValue.
type wireKind uint8

const (
	wireNil wireKind = iota
	wireBool
	wireString
	wireInt
	wireInt64
	wireInt32
	wireUint64
	wireFloat64
	wireFloat32
	wireMap    // map[string]any
	wireValues // common.Values
	wireList   // []any
	wireStrings
	wireStringMap // map[string]string
)

// wireValue is a decoded YAML or JSON value, with its Go type.
type wireValue struct {
	K wireKind
	B bool
	I int64
	U uint64
	F float64
	S string
	// Keys are a map's keys, sorted; L holds the values in the same order,
	// or a list's items.
	Keys []string
	L    []wireValue
	SS   []string
}

func toWire(v any) (wireValue, error) {
	switch v := v.(type) {
	case nil:
		return wireValue{K: wireNil}, nil
	case bool:
		return wireValue{K: wireBool, B: v}, nil
	case string:
		return wireValue{K: wireString, S: v}, nil
	case int:
		return wireValue{K: wireInt, I: int64(v)}, nil
	case int64:
		return wireValue{K: wireInt64, I: v}, nil
	case int32:
		return wireValue{K: wireInt32, I: int64(v)}, nil
	case uint64:
		return wireValue{K: wireUint64, U: v}, nil
	case float64:
		return wireValue{K: wireFloat64, F: v}, nil
	case float32:
		return wireValue{K: wireFloat32, F: float64(v)}, nil
	case map[string]any:
		if v == nil {
			return wireValue{K: wireNil}, nil
		}
		return mapToWire(wireMap, v)
	case common.Values:
		if v == nil {
			return wireValue{K: wireNil}, nil
		}
		return mapToWire(wireValues, v)
	case []any:
		if v == nil {
			return wireValue{K: wireNil}, nil
		}
		out := wireValue{K: wireList, L: make([]wireValue, len(v))}
		for i, e := range v {
			w, err := toWire(e)
			if err != nil {
				return wireValue{}, fmt.Errorf("[%d]%w", i, err)
			}
			out.L[i] = w
		}
		return out, nil
	case []string:
		return wireValue{K: wireStrings, SS: v}, nil
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		w, err := mapToWire(wireStringMap, m)
		return w, err
	default:
		return wireValue{}, fmt.Errorf(": a value of type %T cannot be passed to the render process", v)
	}
}

func mapToWire(kind wireKind, m map[string]any) (wireValue, error) {
	out := wireValue{K: kind, Keys: make([]string, 0, len(m))}
	for k := range m {
		out.Keys = append(out.Keys, k)
	}
	sort.Strings(out.Keys)
	out.L = make([]wireValue, len(out.Keys))
	for i, k := range out.Keys {
		w, err := toWire(m[k])
		if err != nil {
			return wireValue{}, fmt.Errorf(".%s%w", k, err)
		}
		out.L[i] = w
	}
	return out, nil
}

func fromWire(w wireValue) any {
	switch w.K {
	case wireBool:
		return w.B
	case wireString:
		return w.S
	case wireInt:
		return int(w.I)
	case wireInt64:
		return w.I
	case wireInt32:
		return int32(w.I)
	case wireUint64:
		return w.U
	case wireFloat64:
		return w.F
	case wireFloat32:
		return float32(w.F)
	case wireMap:
		return mapFromWire(w)
	case wireValues:
		return common.Values(mapFromWire(w))
	case wireList:
		out := make([]any, len(w.L))
		for i, e := range w.L {
			out[i] = fromWire(e)
		}
		return out
	case wireStrings:
		if w.SS == nil {
			return []string{}
		}
		return w.SS
	case wireStringMap:
		out := make(map[string]string, len(w.Keys))
		for i, k := range w.Keys {
			out[k] = w.L[i].S
		}
		return out
	default:
		return nil
	}
}

func mapFromWire(w wireValue) map[string]any {
	out := make(map[string]any, len(w.Keys))
	for i, k := range w.Keys {
		if i < len(w.L) {
			out[k] = fromWire(w.L[i])
		}
	}
	return out
}

// wireChart is a chart and its dependencies. Metadata and Lock travel as
// JSON, which they round-trip exactly.
type wireChart struct {
	Metadata  []byte
	Lock      []byte
	Raw       []*common.File
	Templates []*common.File
	Files     []*common.File
	Values    wireValue
	Schema    []byte
	Deps      []*wireChart
}

func chartToWire(ch *chart.Chart) (*wireChart, error) {
	out := &wireChart{Raw: ch.Raw, Templates: ch.Templates, Files: ch.Files, Schema: ch.Schema}
	var err error
	if ch.Metadata != nil {
		if out.Metadata, err = json.Marshal(ch.Metadata); err != nil {
			return nil, fmt.Errorf("chart %q metadata: %w", ch.Name(), err)
		}
	}
	if ch.Lock != nil {
		if out.Lock, err = json.Marshal(ch.Lock); err != nil {
			return nil, fmt.Errorf("chart %q lock: %w", ch.Name(), err)
		}
	}
	if ch.Values != nil {
		if out.Values, err = toWire(ch.Values); err != nil {
			return nil, fmt.Errorf("chart %q default values%w", ch.Name(), err)
		}
	}
	for _, d := range ch.Dependencies() {
		wd, err := chartToWire(d)
		if err != nil {
			return nil, err
		}
		out.Deps = append(out.Deps, wd)
	}
	return out, nil
}

func chartFromWire(w *wireChart) (*chart.Chart, error) {
	ch := &chart.Chart{Raw: w.Raw, Templates: w.Templates, Files: w.Files, Schema: w.Schema}
	if w.Metadata != nil {
		ch.Metadata = &chart.Metadata{}
		if err := json.Unmarshal(w.Metadata, ch.Metadata); err != nil {
			return nil, err
		}
	}
	if w.Lock != nil {
		ch.Lock = &chart.Lock{}
		if err := json.Unmarshal(w.Lock, ch.Lock); err != nil {
			return nil, err
		}
	}
	if w.Values.K != wireNil {
		ch.Values, _ = fromWire(w.Values).(map[string]any)
	}
	deps := make([]*chart.Chart, 0, len(w.Deps))
	for _, wd := range w.Deps {
		d, err := chartFromWire(wd)
		if err != nil {
			return nil, err
		}
		deps = append(deps, d)
	}
	ch.SetDependencies(deps...)
	return ch, nil
}

// wireResult is a Result, its objects in encodeObjects' encoding.
type wireResult struct {
	Manifest     string
	Notes        string
	HookManifest string
	Objects      []byte
	CRDs         []byte
	Hooks        []byte
	TestHooks    []byte
}

func resultToWire(res *Result) (*wireResult, error) {
	out := &wireResult{Manifest: res.Manifest, Notes: res.Notes, HookManifest: res.HookManifest}
	var err error
	if out.Objects, err = encodeObjects(nil, res.Objects); err != nil {
		return nil, err
	}
	if out.CRDs, err = encodeObjects(nil, res.CRDs); err != nil {
		return nil, err
	}
	if out.Hooks, err = encodeObjects(nil, res.Hooks); err != nil {
		return nil, err
	}
	if out.TestHooks, err = encodeObjects(nil, res.TestHooks); err != nil {
		return nil, err
	}
	return out, nil
}

func resultFromWire(w *wireResult) (*Result, error) {
	res := &Result{Manifest: w.Manifest, Notes: w.Notes, HookManifest: w.HookManifest}
	var err error
	if res.Objects, err = decodeObjectsWire(w.Objects); err != nil {
		return nil, err
	}
	if res.CRDs, err = decodeObjectsWire(w.CRDs); err != nil {
		return nil, err
	}
	if res.Hooks, err = decodeObjectsWire(w.Hooks); err != nil {
		return nil, err
	}
	if res.TestHooks, err = decodeObjectsWire(w.TestHooks); err != nil {
		return nil, err
	}
	return res, nil
}
