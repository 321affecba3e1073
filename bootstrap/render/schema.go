package render

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// ErrSchemaRef is wrapped by the error of a values schema that refers to a
// document the chart does not ship (a URL, or a file outside the chart):
// Helm would fetch it over the network or read it from the disk; this
// package never does.
var ErrSchemaRef = errors.New("schema reference not resolved")

// schemaURL is where Helm places a chart's values.schema.json when it
// compiles it (helm v4.2.4 pkg/chart/common/util/jsonschema.go
// ValidateAgainstSingleSchema): relative $refs resolve against it.
const schemaURL = "file:///values.schema.json"

// CompileValuesSchema compiles the chart's values.schema.json (nil when it
// has none) as Helm compiles it, except that every $ref (and $schema) is
// resolved only from the files the chart ships: a file:// reference names a
// file of the chart, relative to its root, and any other URL is refused
// with an error wrapping ErrSchemaRef, where Helm's loader would fetch
// http(s) URLs and read file URLs from the disk. urn: references are
// permissive, as Helm's urnLoader makes them by default.
func CompileValuesSchema(ch *chart.Chart) (*jsonschema.Schema, error) {
	if ch == nil || len(ch.Schema) == 0 {
		return nil, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ch.Schema))
	if err != nil {
		return nil, err
	}
	l := &chartSchemaLoader{ch: ch}
	c := jsonschema.NewCompiler()
	c.UseLoader(l)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		if l.refused != "" {
			return nil, fmt.Errorf("chart %q: values.schema.json: %w: %q is %s; only the files the chart ships are read",
				ch.Name(), ErrSchemaRef, l.refused, l.reason)
		}
		return nil, err
	}
	return sch, nil
}

// chartSchemaLoader loads the documents a values schema refers to from
// the chart's own files.
type chartSchemaLoader struct {
	ch *chart.Chart
	// refused is the first URL refused, and why.
	refused, reason string
}

func (l *chartSchemaLoader) Load(ref string) (any, error) {
	refuse := func(why string) (any, error) {
		if l.refused == "" {
			l.refused, l.reason = ref, why
		}
		return nil, fmt.Errorf("%w: %s", ErrSchemaRef, why)
	}
	u, err := url.Parse(ref)
	if err != nil {
		return refuse("not a URL: " + err.Error())
	}
	switch u.Scheme {
	case "file":
		name := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
		if u.Host != "" && u.Host != "localhost" {
			return refuse("a file on another host")
		}
		for _, f := range l.ch.Raw {
			if f != nil && f.Name == name {
				return jsonschema.UnmarshalJSON(bytes.NewReader(f.Data))
			}
		}
		return refuse(fmt.Sprintf("not a file of the chart (it has no %s)", name))
	case "urn":
		// As Helm's urnLoader: the resolver a program may plug in, else
		// a schema that accepts anything.
		if doc, err := chartutil.URNResolver(ref); err == nil && doc != nil {
			return doc, nil
		}
		return jsonschema.UnmarshalJSON(strings.NewReader("true"))
	default:
		return refuse("a " + u.Scheme + " URL")
	}
}

// validateAgainstSchema checks values against the chart's schema and, for
// each subchart given values, the subchart's, as Helm's
// chartutil.ValidateAgainstSchema does (helm v4.2.4
// pkg/chart/common/util/jsonschema.go), with its error text, but with the
// schemas compiled by CompileValuesSchema. A schema whose references
// cannot be resolved is returned at once, wrapping ErrSchemaRef.
func validateAgainstSchema(ch *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if len(ch.Schema) > 0 {
		if err := validateSingle(ch, values); err != nil {
			if errors.Is(err, ErrSchemaRef) {
				return err
			}
			fmt.Fprintf(&sb, "%s:\n", ch.Name())
			sb.WriteString(err.Error())
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := validateAgainstSchema(sub, subValues); err != nil {
			if errors.Is(err, ErrSchemaRef) {
				return err
			}
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// validateSingle validates values against ch's own schema, with the error
// text of Helm's JSONSchemaValidationError.
func validateSingle(ch *chart.Chart, values map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %s", r)
		}
	}()
	sch, err := CompileValuesSchema(ch)
	if err != nil {
		return err
	}
	if err := sch.Validate(values); err != nil {
		msg := strings.TrimPrefix(err.Error(), "jsonschema validation failed with '"+schemaURL+"#'\n")
		return errors.New(msg + "\n")
	}
	return nil
}
