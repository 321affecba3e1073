package render

import (
	"bufio"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// decodeDocument decodes one YAML document (a single document, as the
// Kubernetes YAML reader would return it from a stream) into what
// decodeObjects would give for it, without its detour through JSON:
// decodeObjects parses the YAML, encodes it as JSON, then parses that JSON
// three times (to check it, to look for a list and to decode it). The
// values are converted as that round trip converts them: map keys to
// strings as sigs.k8s.io/yaml does, whole numbers that JSON would print
// without a fraction to int64, other numbers to float64.
//
// It reports false whenever the round trip could give something else or
// fail (a value JSON cannot encode, a string that is not valid UTF-8, map
// keys that collide as strings, a list, a missing kind, a document that is
// not a mapping); the caller then uses decodeObjects.
func decodeDocument(doc string) ([]*unstructured.Unstructured, bool) {
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		return nil, false
	}
	if v == nil {
		return nil, true // an empty document
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, false
	}
	if len(m) == 0 {
		return nil, true // {} is skipped
	}
	obj, ok := jsonMap(m)
	if !ok {
		return nil, false
	}
	if _, list := obj["items"]; list {
		return nil, false
	}
	if kind, _ := obj["kind"].(string); kind == "" {
		return nil, false
	}
	return []*unstructured.Unstructured{{Object: obj}}, true
}

// jsonValue converts a value decoded by yaml.v2 into the value the JSON
// round trip gives.
func jsonValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case map[any]any:
		return jsonMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, ok := jsonValue(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
		f, err := strconv.ParseFloat(strconv.FormatUint(v, 10), 64)
		return f, err == nil
	case float64:
		return jsonFloat(v)
	default:
		return nil, false
	}
}

func jsonMap(m map[any]any) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for k, e := range m {
		key, ok := jsonKey(k)
		if !ok || !utf8.ValidString(key) {
			return nil, false
		}
		if _, dup := out[key]; dup {
			return nil, false
		}
		c, ok := jsonValue(e)
		if !ok {
			return nil, false
		}
		out[key] = c
	}
	return out, true
}

// jsonKey turns a YAML map key into a string as sigs.k8s.io/yaml does.
func jsonKey(k any) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case int:
		return strconv.Itoa(k), true
	case int64:
		return strconv.FormatInt(k, 10), true
	case float64:
		s := strconv.FormatFloat(k, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, true
	case bool:
		return strconv.FormatBool(k), true
	default:
		return "", false
	}
}

// jsonFloat is what encoding/json prints for f, read back as the
// Kubernetes JSON decoder reads numbers: int64 when the text has no
// fraction and fits, else float64.
func jsonFloat(f float64) (any, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false // encoding/json refuses them
	}
	// encoding/json uses exponent notation outside [1e-6, 1e21), which
	// never reads as an integer.
	if abs := math.Abs(f); abs == 0 || abs >= 1e-6 && abs < 1e21 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, true
			}
		}
	}
	return f, true
}

// decodeManifest is decodeObjects, decoding each document with
// decodeDocument when it can.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	if objs, ok := decodeStream(manifest); ok {
		return objs, nil
	}
	return decodeObjects(manifest)
}

// decodeStream splits a YAML stream into documents as decodeObjects does
// and decodes each with decodeDocument. It reports false for a stream
// decodeObjects would read as JSON, and whenever decodeDocument declines a
// document.
func decodeStream(manifest string) ([]*unstructured.Unstructured, bool) {
	// decodeObjects reads a stream as JSON when it starts with {, looking
	// at its first 4096 bytes.
	trimmed := strings.TrimLeftFunc(manifest, unicode.IsSpace)
	if strings.HasPrefix(trimmed, "{") || len(manifest)-len(trimmed) >= 4096 {
		return nil, false
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		if len(doc) == 0 {
			continue
		}
		objs, ok := decodeDocument(string(doc))
		if !ok {
			return nil, false
		}
		out = append(out, objs...)
	}
}
