package render

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Rendered objects cross from the render process in a compact encoding of
// their own, without reflection: a render's objects hold every CRD schema
// of the chart, and encoding those as gob trees cost more than the render.
// Objects are decoded JSON, so they hold only these types, and each comes
// back as the same Go type (an int64 stays an int64, a float64 a float64).
const (
	objNil byte = iota
	objFalse
	objTrue
	objString
	objInt64
	objFloat64
	objMap
	objList
)

// encodeObjects appends objs to buf.
func encodeObjects(buf []byte, objs []*unstructured.Unstructured) ([]byte, error) {
	buf = binary.AppendUvarint(buf, uint64(len(objs)))
	for i, o := range objs {
		var err error
		if buf, err = encodeObjectValue(buf, o.Object); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
	}
	return buf, nil
}

func encodeObjectValue(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(buf, objNil), nil
	case bool:
		if v {
			return append(buf, objTrue), nil
		}
		return append(buf, objFalse), nil
	case string:
		buf = append(buf, objString)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...), nil
	case int64:
		return binary.AppendVarint(append(buf, objInt64), v), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(buf, objFloat64), math.Float64bits(v)), nil
	case map[string]any:
		buf = append(buf, objMap)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		for k, e := range v {
			buf = binary.AppendUvarint(buf, uint64(len(k)))
			buf = append(buf, k...)
			var err error
			if buf, err = encodeObjectValue(buf, e); err != nil {
				return nil, fmt.Errorf(".%s%w", k, err)
			}
		}
		return buf, nil
	case []any:
		buf = append(buf, objList)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		for i, e := range v {
			var err error
			if buf, err = encodeObjectValue(buf, e); err != nil {
				return nil, fmt.Errorf("[%d]%w", i, err)
			}
		}
		return buf, nil
	default:
		return nil, fmt.Errorf(": a value of type %T is not one decoded JSON holds", v)
	}
}

// objectDecoder reads what encodeObjects wrote.
type objectDecoder struct{ b []byte }

var errObjects = errors.New("malformed objects from the render process")

func decodeObjectsWire(b []byte) ([]*unstructured.Unstructured, error) {
	d := &objectDecoder{b: b}
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) {
		return nil, errObjects
	}
	var out []*unstructured.Unstructured
	for range n {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errObjects
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	if len(d.b) != 0 {
		return nil, errObjects
	}
	return out, nil
}

func (d *objectDecoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, errObjects
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *objectDecoder) str() (string, error) {
	n, err := d.uvarint()
	if err != nil || n > uint64(len(d.b)) {
		return "", errObjects
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s, nil
}

func (d *objectDecoder) value() (any, error) {
	if len(d.b) == 0 {
		return nil, errObjects
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case objNil:
		return nil, nil
	case objFalse:
		return false, nil
	case objTrue:
		return true, nil
	case objString:
		return d.str()
	case objInt64:
		v, n := binary.Varint(d.b)
		if n <= 0 {
			return nil, errObjects
		}
		d.b = d.b[n:]
		return v, nil
	case objFloat64:
		if len(d.b) < 8 {
			return nil, errObjects
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v, nil
	case objMap:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.b)) {
			return nil, errObjects
		}
		m := make(map[string]any, n)
		for range n {
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if m[k], err = d.value(); err != nil {
				return nil, err
			}
		}
		return m, nil
	case objList:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.b)) {
			return nil, errObjects
		}
		l := make([]any, n)
		for i := range l {
			if l[i], err = d.value(); err != nil {
				return nil, err
			}
		}
		return l, nil
	default:
		return nil, errObjects
	}
}
