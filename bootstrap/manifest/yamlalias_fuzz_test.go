package manifest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
	kyamlv3 "go.yaml.in/yaml/v3"
	"gopkg.in/yaml.v3"
)

// aliasDecoder decodes every document of a YAML stream into Go values, as
// one of go-yaml's decoders does.
type aliasDecoder struct {
	name   string
	decode func([]byte) decoded
}

// decoded is what a decoder made of a stream.
type decoded struct {
	// refused: the decoder refused the stream for excessive aliasing.
	refused bool
	// complete: it decoded every document, with at most type errors.
	complete bool
	// values is how many values the documents it decoded hold.
	values int
}

// decodeStream decodes documents with next until the end of the stream or
// an error other than a type error (after which the decoders go on with the
// next document).
func decodeStream(next func(*any) error, isTypeError func(error) bool) decoded {
	var d decoded
	for {
		var v any
		err := next(&v)
		d.values += countValues(v)
		switch {
		case err == nil || isTypeError(err):
		case errors.Is(err, io.EOF):
			d.complete = true
			return d
		case strings.Contains(err.Error(), "excessive aliasing"):
			d.refused = true
			return d
		default:
			return d // a syntax error, an unknown anchor, an anchor containing itself
		}
	}
}

var aliasDecoders = []aliasDecoder{
	{"gopkg.in/yaml.v3 (the parser of CheckYAMLAliases)", func(data []byte) decoded {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		return decodeStream(func(v *any) error { return dec.Decode(v) },
			func(err error) bool { var te *yaml.TypeError; return errors.As(err, &te) })
	}},
	{"go.yaml.in/yaml/v3 (kustomize's kyaml)", func(data []byte) decoded {
		dec := kyamlv3.NewDecoder(bytes.NewReader(data))
		return decodeStream(func(v *any) error { return dec.Decode(v) },
			func(err error) bool { var te *kyamlv3.TypeError; return errors.As(err, &te) })
	}},
	{"go.yaml.in/yaml/v2 (sigs.k8s.io/yaml)", func(data []byte) decoded {
		dec := yamlv2.NewDecoder(bytes.NewReader(data))
		return decodeStream(func(v *any) error { return dec.Decode(v) },
			func(err error) bool { var te *yamlv2.TypeError; return errors.As(err, &te) })
	}},
}

// countValues counts the values v holds, itself included: the size of a
// decoded document with its aliases expanded.
func countValues(v any) int {
	n := 1
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			n += 1 + countValues(e)
		}
	case map[any]any:
		for k, e := range v {
			n += countValues(k) + countValues(e)
		}
	case []any:
		for _, e := range v {
			n += countValues(e)
		}
	}
	return n
}

// aliasFuzzBound is how long CheckYAMLAliases, and each decoder within its
// alias budget, may take on one fuzzed stream.
const aliasFuzzBound = 10 * time.Second

// within runs fn and fails the test when fn has not returned within d.
// fn cannot be stopped: it goes on in the background, so it must not use
// t.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// FuzzCheckYAMLAliases checks CheckYAMLAliases against go-yaml's own
// decoders on any stream: when a decoder refuses it for excessive
// aliasing, CheckYAMLAliases refuses it too (wrapping
// ErrExcessiveAliasing, its only error); when CheckYAMLAliases accepts
// it, what the decoders produce stays within go-yaml's alias budget, at
// most about 100 values for each byte of the stream (aliases may make up
// 99% of what a document decodes to). A refusal of a stream every decoder
// decodes is allowed only for a merge key, which the check counts in
// full.
func FuzzCheckYAMLAliases(f *testing.F) {
	for _, s := range []string{laughs(3, 4), laughs(4, 9), laughs(9, 9), fanOut(10, 3), mergeKeys(5), "a: 1\n---\n" + laughs(6, 9)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got error
		within(t, aliasFuzzBound, "CheckYAMLAliases", func() { got = CheckYAMLAliases(data) })
		if got != nil && !errors.Is(got, ErrExcessiveAliasing) {
			t.Fatalf("error %v does not wrap ErrExcessiveAliasing", got)
		}
		allComplete := true
		for _, d := range aliasDecoders {
			var r decoded
			within(t, aliasFuzzBound, d.name, func() { r = d.decode(data) })
			allComplete = allComplete && r.complete
			if r.refused && got == nil {
				t.Errorf("%s refuses the stream for excessive aliasing, CheckYAMLAliases accepts it", d.name)
			}
			if budget := 100*len(data) + 1000; got == nil && r.values > budget {
				t.Errorf("CheckYAMLAliases accepts a stream of %d bytes that %s decodes to %d values, over %d",
					len(data), d.name, r.values, budget)
			}
		}
		if got != nil && allComplete && !bytes.Contains(data, []byte("<<")) {
			t.Errorf("CheckYAMLAliases refuses a stream without a merge key that every decoder decodes: %v", got)
		}
	})
}
