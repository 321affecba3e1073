package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The JSON schemas kubeconform reads offline are converted the way
// kubeconform's own tooling does (yannh/kubeconform
// scripts/openapi2jsonschema.py at v0.8.0 for CRDs; the
// instrumenta/openapi2jsonschema --kubernetes --strict --stand-alone mode
// yannh/kubernetes-json-schema is built with, for built-in kinds). Every
// schema goes into one folder, named as kubeconform's
// {{ .ResourceKind }}{{ .KindSuffix }}.json template expects:
// kind-group-version.json (the group's first DNS label), kind-version.json
// for the core group.

// schemaFile is the file name kubeconform looks a kind up by.
func schemaFile(kind, group, version string) string {
	name := strings.ToLower(kind)
	if g, _, _ := strings.Cut(group, "."); g != "" {
		name += "-" + strings.ToLower(g)
	}
	return name + "-" + strings.ToLower(version) + ".json"
}

// crdSchemas converts every served version of a CustomResourceDefinition:
// its openAPIV3Schema, additionalProperties false on every object that
// lists properties below the root, and format int-or-string as a oneOf.
func crdSchemas(crd obj) (map[string]any, error) {
	spec, _ := crd["spec"].(obj)
	names, _ := spec["names"].(obj)
	kind, group := str(names["kind"]), str(spec["group"])
	out := map[string]any{}
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		vm, _ := v.(obj)
		sch, _ := vm["schema"].(obj)
		root, ok := sch["openAPIV3Schema"].(obj)
		if !ok {
			continue
		}
		out[schemaFile(kind, group, str(vm["name"]))] = replaceIntOrString(additionalProperties(root, true))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CustomResourceDefinition %s: no version has an openAPIV3Schema", str(crd["metadata"].(obj)["name"]))
	}
	return out, nil
}

// additionalProperties sets additionalProperties false on every map that
// has properties and no additionalProperties (kubectl's old strict check,
// which openapi2jsonschema.py recreates), skipping data itself when skip.
func additionalProperties(data any, skip bool) any {
	switch d := data.(type) {
	case map[string]any:
		if _, ok := d["properties"]; ok && !skip {
			if _, ok := d["additionalProperties"]; !ok {
				d["additionalProperties"] = false
			}
		}
		for _, v := range d {
			additionalProperties(v, false)
		}
	case []any:
		for _, v := range d {
			additionalProperties(v, false)
		}
	}
	return data
}

// replaceIntOrString turns every schema with format int-or-string into
// oneOf string or integer.
func replaceIntOrString(data any) any {
	switch d := data.(type) {
	case map[string]any:
		for k, v := range d {
			if m, ok := v.(map[string]any); ok && m["format"] == "int-or-string" {
				d[k] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
				continue
			}
			d[k] = replaceIntOrString(v)
		}
	case []any:
		for i, v := range d {
			d[i] = replaceIntOrString(v)
		}
	}
	return data
}

const (
	quantityDef = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	gvkExt      = "x-kubernetes-group-version-kind"
)

// builtinSchemas converts a Kubernetes OpenAPI v2 document (the API
// server's /openapi/v2, api/openapi-spec/swagger.json of
// k8s.io/kubernetes) into one standalone strict schema per kind and
// version. Standalone keeps the references the definitions make to each
// other, with the definitions they reach copied into the file (the
// definitions are recursive, JSONSchemaProps for one, so they cannot all
// be inlined); apiVersion and kind are pinned with an enum; every property
// not listed as required may be null, as in instrumenta's --kubernetes
// mode (a reference by an anyOf with null). A definition of format
// int-or-string becomes a oneOf string or integer. A Quantity is a string or a number, as the API server decodes it
// (its OpenAPI v2 type says string only).
func builtinSchemas(swagger []byte) (map[string]any, error) {
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(swagger, &doc); err != nil {
		return nil, fmt.Errorf("decoding the OpenAPI document: %w", err)
	}
	if len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("the OpenAPI document has no definitions")
	}
	defs := doc.Definitions
	if q, ok := defs[quantityDef]; ok {
		delete(q, "type")
		q["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}
	}
	for name, d := range defs {
		if d["format"] == "int-or-string" {
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
	}
	for _, d := range defs {
		allowNull(d)
		additionalProperties(d, false)
		replaceIntOrString(d)
	}
	out := map[string]any{}
	for _, d := range defs {
		gvks, _ := d[gvkExt].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, version, kind := str(gvk["group"]), str(gvk["version"]), str(gvk["kind"])
			apiVersion := version
			if group != "" {
				apiVersion = group + "/" + version
			}
			root := deepCopy(d).(map[string]any)
			if props, ok := root["properties"].(map[string]any); ok {
				if av, ok := props["apiVersion"].(map[string]any); ok {
					av["enum"] = []any{apiVersion}
				}
				if k, ok := props["kind"].(map[string]any); ok {
					k["enum"] = []any{kind}
				}
			}
			reached := map[string]any{}
			collectRefs(d, defs, reached)
			if len(reached) > 0 {
				root["definitions"] = reached
			}
			out[schemaFile(kind, group, version)] = root
		}
	}
	return out, nil
}

// allowNull lets each property of an object that its required list does
// not name be null as well as its own type.
func allowNull(d map[string]any) {
	required := map[string]bool{}
	if rs, ok := d["required"].([]any); ok {
		for _, r := range rs {
			required[str(r)] = true
		}
	}
	props, _ := d["properties"].(map[string]any)
	for name, p := range props {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := pm["$ref"].(string); ok && !required[name] {
			props[name] = map[string]any{"anyOf": []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}}
			continue
		}
		if t, ok := pm["type"].(string); ok && !required[name] {
			pm["type"] = []any{t, "null"}
		}
		allowNull(pm)
		if items, ok := pm["items"].(map[string]any); ok {
			allowNull(items)
		}
		if ap, ok := pm["additionalProperties"].(map[string]any); ok {
			allowNull(ap)
		}
	}
}

// collectRefs adds to into every definition v references, transitively.
func collectRefs(v any, defs map[string]map[string]any, into map[string]any) {
	switch d := v.(type) {
	case map[string]any:
		if ref, ok := d["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, seen := into[name]; !seen {
				if def, ok := defs[name]; ok {
					into[name] = def
					collectRefs(def, defs, into)
				}
			}
		}
		for _, x := range d {
			collectRefs(x, defs, into)
		}
	case []any:
		for _, x := range d {
			collectRefs(x, defs, into)
		}
	}
}

func deepCopy(v any) any {
	switch d := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(d))
		for k, x := range d {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(d))
		for i, x := range d {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// writeSchemas writes each schema as dir/<file>.
func writeSchemas(dir string, schemas map[string]any) error {
	for name, s := range schemas {
		data, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
