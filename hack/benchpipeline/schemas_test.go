package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The names follow kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}
// (pkg/registry/registry.go schemaPath at v0.8.0): lower-case kind, the
// group's first label, the version.
func TestSchemaFile(t *testing.T) {
	cases := map[[3]string]string{
		{"Deployment", "apps", "v1"}:                    "deployment-apps-v1.json",
		{"ConfigMap", "", "v1"}:                         "configmap-v1.json",
		{"HelmRelease", "helm.toolkit.fluxcd.io", "v2"}: "helmrelease-helm-v2.json",
		{"Ingress", "networking.k8s.io", "v1"}:          "ingress-networking-v1.json",
		{"Certificate", "cert-manager.io", "v1"}:        "certificate-cert-manager-v1.json",
	}
	for in, want := range cases {
		if got := schemaFile(in[0], in[1], in[2]); got != want {
			t.Errorf("schemaFile%v = %q, want %q", in, got, want)
		}
	}
}

func TestCRDSchemas(t *testing.T) {
	var crd obj
	err := yaml.Unmarshal([]byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget}
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              port: {format: int-or-string}
              free: {type: object, additionalProperties: true, properties: {a: {type: string}}}
`), &crd)
	if err != nil {
		t.Fatal(err)
	}
	s, err := crdSchemas(crd)
	if err != nil {
		t.Fatal(err)
	}
	root, ok := s["widget-example-v1.json"].(map[string]any)
	if !ok {
		t.Fatalf("schemas %v: no widget-example-v1.json", s)
	}
	if _, set := root["additionalProperties"]; set {
		t.Error("root: additionalProperties set (openapi2jsonschema.py leaves the root open)")
	}
	spec := root["properties"].(map[string]any)["spec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Errorf("spec.additionalProperties = %v, want false", spec["additionalProperties"])
	}
	props := spec["properties"].(map[string]any)
	if props["free"].(map[string]any)["additionalProperties"] != true {
		t.Error("an explicit additionalProperties was overwritten")
	}
	if _, ok := props["port"].(map[string]any)["oneOf"]; !ok {
		t.Errorf("int-or-string not turned into oneOf: %v", props["port"])
	}
}

func TestBuiltinSchemas(t *testing.T) {
	swagger := []byte(`{"definitions": {
  "io.k8s.api.core.v1.ConfigMap": {
    "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMap"}],
    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
      "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
      "data": {"type": "object", "additionalProperties": {"type": "string"}},
      "port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}}},
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
  "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
    "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}}},
  "io.k8s.api.apps.v1.Unused": {"properties": {"x": {"type": "string"}}}
}}`)
	s, err := builtinSchemas(swagger)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 {
		t.Fatalf("%d schemas, want 1 (only definitions with a group-version-kind)", len(s))
	}
	root := s["configmap-v1.json"].(map[string]any)
	data, _ := json.Marshal(root)
	text := string(data)
	for _, want := range []string{`"anyOf":[{"$ref":"#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},{"type":"null"}]`, `"io.k8s.apimachinery.pkg.util.intstr.IntOrString":{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `"enum":["v1"]`, `"enum":["ConfigMap"]`, `"additionalProperties":false`, `"type":["string","null"]`} {
		if !strings.Contains(text, want) {
			t.Errorf("schema lacks %s:\n%s", want, text)
		}
	}
	defs, _ := root["definitions"].(map[string]any)
	if _, ok := defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]; !ok {
		t.Errorf("referenced ObjectMeta not carried in definitions: %v", defs)
	}
	if _, ok := defs["io.k8s.api.apps.v1.Unused"]; ok {
		t.Error("an unreferenced definition was carried")
	}
	if _, err := builtinSchemas([]byte(`{}`)); err == nil {
		t.Error("a document without definitions: no error")
	}
}

func TestDropMissingDependencies(t *testing.T) {
	dir := t.TempDir()
	chart := "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: present\n  version: 1.0.0\n- name: absent\n  version: 0.0\n  condition: absent.enabled\n"
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(chart), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "charts", "present"), 0o755); err != nil {
		t.Fatal(err)
	}
	dropped, err := dropMissingDependencies(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 1 || dropped[0] != "absent" {
		t.Errorf("dropped %v, want [absent]", dropped)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if strings.Contains(string(data), "absent") || !strings.Contains(string(data), "present") {
		t.Errorf("Chart.yaml after: %s", data)
	}
}
