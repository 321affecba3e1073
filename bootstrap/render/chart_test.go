package render

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// ghillieChart is the chart under test, relative to this package.
const ghillieChart = "../../charts/ghillie"

// chartCase is a values file of testdata and the golden files it renders to.
type chartCase struct {
	name      string
	values    string // file in testdata
	namespace string
}

var chartCases = []chartCase{
	{name: "local", values: "values-local.yaml", namespace: "ghillie"},
	{name: "pr-123", values: "values-pr-123.yaml", namespace: "pr-123"},
	{name: "production", values: "values-production.yaml", namespace: "ghillie"},
}

func loadGhillie(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := LoadChart(ghillieChart)
	if err != nil {
		t.Fatalf("LoadChart: %v", err)
	}
	return ch
}

func readValues(t *testing.T, name string) map[string]any {
	t.Helper()
	vals, err := common.ReadValuesFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read values %s: %v", name, err)
	}
	return vals.AsMap()
}

func parseValues(t *testing.T, doc string) map[string]any {
	t.Helper()
	vals, err := common.ReadValues([]byte(doc))
	if err != nil {
		t.Fatalf("parse values %q: %v", doc, err)
	}
	return vals.AsMap()
}

func renderGhillie(t *testing.T, namespace string, values map[string]any) *Result {
	t.Helper()
	res, err := Render(context.Background(), loadGhillie(t), Options{
		ReleaseName: "ghillie",
		Namespace:   namespace,
		Values:      values,
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return res
}

// assertGolden compares got with testdata/golden/name, or rewrites the file
// when the test runs with -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the rendered output (run go test -update to accept it):\n%s",
			path, lineDiff(string(want), got))
	}
}

// lineDiff reports the first differing line of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

func TestGhillieGolden(t *testing.T) {
	for _, tc := range chartCases {
		t.Run(tc.name, func(t *testing.T) {
			res := renderGhillie(t, tc.namespace, readValues(t, tc.values))
			assertGolden(t, tc.name+".yaml", res.Manifest)
			assertGolden(t, tc.name+".notes.txt", res.Notes)
		})
	}
}

func TestGhillieLintClean(t *testing.T) {
	cases := append([]chartCase{{name: "defaults"}}, chartCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var values map[string]any
			if tc.values != "" {
				values = readValues(t, tc.values)
			}
			msgs, err := Lint(ghillieChart, values)
			if err != nil {
				t.Fatalf("Lint: %v", err)
			}
			for _, m := range msgs {
				if m.Severity >= SeverityWarning {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

// find returns the rendered object of the given kind, failing if there is
// not exactly one.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(found))
	}
	return found[0]
}

func has(t *testing.T, objs []*unstructured.Unstructured, kind string) bool {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind {
			return true
		}
	}
	return false
}

func nested(t *testing.T, obj map[string]any, fields ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj, fields...)
	if err != nil {
		t.Fatalf("field %s: %v", strings.Join(fields, "."), err)
	}
	if !ok {
		return nil
	}
	return v
}

func container(t *testing.T, deploy *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _ := nested(t, deploy.Object, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return cs[0].(map[string]any)
}

func TestGhillieLocal(t *testing.T) {
	res := renderGhillie(t, "ghillie", readValues(t, "values-local.yaml"))

	ing := find(t, res.Objects, "Ingress")
	if v := nested(t, ing.Object, "spec", "ingressClassName"); v != nil {
		t.Errorf("hostless local ingress has ingressClassName %v; k3s's Traefik serves class-less Ingresses", v)
	}
	rules, _ := nested(t, ing.Object, "spec", "rules").([]any)
	if len(rules) != 1 {
		t.Fatalf("want one ingress rule, got %d", len(rules))
	}
	if _, ok := rules[0].(map[string]any)["host"]; ok {
		t.Errorf("hostless rule renders a host key: %v", rules[0])
	}
	if v := nested(t, ing.Object, "spec", "tls"); v != nil {
		t.Errorf("local ingress has tls %v", v)
	}
	if has(t, res.Objects, "ExternalSecret") {
		t.Error("ExternalSecret rendered while disabled")
	}

	deploy := find(t, res.Objects, "Deployment")
	c := container(t, deploy)
	if got := c["image"]; got != "ghillie:local" {
		t.Errorf("image = %v, want ghillie:local", got)
	}
	if got := nested(t, c, "envFrom"); got == nil || !strings.Contains(toString(got), "name:ghillie") {
		t.Errorf("envFrom = %v, want the Secret ghillie", got)
	}
	for probe, path := range map[string]string{"livenessProbe": "/health", "readinessProbe": "/ready"} {
		if got := nested(t, c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %v, want %s", probe, got, path)
		}
		if got := nested(t, c, probe, "httpGet", "port"); got != "http" {
			t.Errorf("%s port = %v, want http", probe, got)
		}
	}
	ports, _ := c["ports"].([]any)
	if len(ports) != 1 || nested(t, ports[0].(map[string]any), "containerPort") != int64(8080) ||
		nested(t, ports[0].(map[string]any), "name") != "http" {
		t.Errorf("ports = %v, want http on 8080", ports)
	}

	// Secure defaults.
	pod := nested(t, deploy.Object, "spec", "template", "spec").(map[string]any)
	for field, want := range map[string]any{"runAsNonRoot": true, "runAsUser": int64(1000), "runAsGroup": int64(1000), "fsGroup": int64(1000)} {
		if got := nested(t, pod, "securityContext", field); got != want {
			t.Errorf("pod securityContext.%s = %v, want %v", field, got, want)
		}
	}
	if got := nested(t, pod, "securityContext", "seccompProfile", "type"); got != "RuntimeDefault" {
		t.Errorf("pod seccompProfile = %v, want RuntimeDefault", got)
	}
	for field, want := range map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false} {
		if got := nested(t, c, "securityContext", field); got != want {
			t.Errorf("container securityContext.%s = %v, want %v", field, got, want)
		}
	}
	if got := toString(nested(t, c, "securityContext", "capabilities", "drop")); got != "[ALL]" {
		t.Errorf("capabilities.drop = %s, want [ALL]", got)
	}
	if got := toString(nested(t, c, "volumeMounts")); got != "[map[mountPath:/tmp name:tmp]]" {
		t.Errorf("volumeMounts = %s, want tmp at /tmp", got)
	}
	if got := toString(nested(t, pod, "volumes")); got != "[map[emptyDir:map[] name:tmp]]" {
		t.Errorf("volumes = %s, want an emptyDir named tmp", got)
	}

	// env.normal becomes env entries sorted by name, read from the ConfigMap.
	cm := find(t, res.Objects, "ConfigMap")
	env, _ := c["env"].([]any)
	var names []string
	for _, e := range env {
		em := e.(map[string]any)
		name := em["name"].(string)
		names = append(names, name)
		if ref := nested(t, em, "valueFrom", "configMapKeyRef", "name"); ref != cm.GetName() {
			t.Errorf("env %s comes from %v, want ConfigMap %s", name, ref, cm.GetName())
		}
		if _, ok := nested(t, cm.Object, "data").(map[string]any)[name]; !ok {
			t.Errorf("env %s is not in the ConfigMap", name)
		}
	}
	if got, want := strings.Join(names, ","), "GHILLIE_ENV,GHILLIE_HOST,GHILLIE_LOG_LEVEL,GHILLIE_PORT"; got != want {
		t.Errorf("env names = %s, want %s", got, want)
	}
	if got := nested(t, cm.Object, "data", "GHILLIE_PORT"); got != "8080" {
		t.Errorf("GHILLIE_PORT = %v, want 8080", got)
	}

	// Labels.
	for _, o := range res.Objects {
		labels := o.GetLabels()
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if labels[k] == "" {
				t.Errorf("%s %s lacks label %s", o.GetKind(), o.GetName(), k)
			}
		}
	}
	sel := toString(nested(t, deploy.Object, "spec", "selector", "matchLabels"))
	if sel != "map[app.kubernetes.io/instance:ghillie app.kubernetes.io/name:ghillie]" {
		t.Errorf("selector = %s, want name and instance only", sel)
	}
}

func TestGhilliePreview(t *testing.T) {
	res := renderGhillie(t, "pr-123", readValues(t, "values-pr-123.yaml"))

	es := find(t, res.Objects, "ExternalSecret")
	if got := es.GetAPIVersion(); got != "external-secrets.io/v1" {
		t.Errorf("ExternalSecret apiVersion = %s, want external-secrets.io/v1", got)
	}
	if got := toString(nested(t, es.Object, "spec", "secretStoreRef")); got != "map[kind:ClusterSecretStore name:platform-vault]" {
		t.Errorf("secretStoreRef = %s", got)
	}
	if got := nested(t, es.Object, "spec", "target", "name"); got != "ghillie" {
		t.Errorf("target = %v, want the Secret the pods load, ghillie", got)
	}
	c := container(t, find(t, res.Objects, "Deployment"))
	if got := c["image"]; got != "ghcr.io/leynos/ghillie:sha-abc123" {
		t.Errorf("image = %v", got)
	}

	ing := find(t, res.Objects, "Ingress")
	if got := nested(t, ing.Object, "spec", "rules").([]any)[0].(map[string]any)["host"]; got != "pr-123.preview.example.com" {
		t.Errorf("host = %v", got)
	}
	if got := toString(nested(t, ing.Object, "spec", "tls")); got != "[map[hosts:[pr-123.preview.example.com] secretName:ghillie-tls]]" {
		t.Errorf("tls = %s", got)
	}
	if v := nested(t, ing.Object, "spec", "ingressClassName"); v != nil {
		t.Errorf("ingressClassName = %v without className", v)
	}
}

// TestGhillieDesignValues renders the values the design document gives,
// verbatim: values.local.yaml, and the pr-123 values patch naming its
// secret store by name alone (secretStoreRef: platform-vault, a
// ClusterSecretStore). The patch lists no keys, and an ExternalSecret
// without any is refused (as External Secrets Operator refuses it), so it
// is applied over the preview values that list them, as an overlay patch
// is applied over the values it patches.
func TestGhillieDesignValues(t *testing.T) {
	res := renderGhillie(t, "ghillie", readValues(t, "design-values.local.yaml"))
	if c := container(t, find(t, res.Objects, "Deployment")); c["image"] != "ghillie:local" {
		t.Errorf("local image = %v", c["image"])
	}
	for _, o := range res.Objects {
		if o.GetKind() == "ExternalSecret" {
			t.Errorf("local values made an ExternalSecret")
		}
	}

	patch := readValues(t, "design-pr-123-patch.yaml")
	values := loader.MergeMaps(readValues(t, "values-pr-123.yaml"), patch)
	res = renderGhillie(t, "pr-123", values)
	es := find(t, res.Objects, "ExternalSecret")
	if got := toString(nested(t, es.Object, "spec", "secretStoreRef")); got != "map[kind:ClusterSecretStore name:platform-vault]" {
		t.Errorf("secretStoreRef = %s, want the ClusterSecretStore platform-vault", got)
	}
	if c := container(t, find(t, res.Objects, "Deployment")); c["image"] != "ghcr.io/leynos/ghillie:sha-abc123" {
		t.Errorf("preview image = %v", c["image"])
	}

	// The object form still works, and names a SecretStore when asked.
	values = loader.MergeMaps(readValues(t, "values-pr-123.yaml"), parseValues(t, "secrets: {externalSecret: {secretStoreRef: {name: team-vault, kind: SecretStore}}}"))
	es = find(t, renderGhillie(t, "pr-123", values).Objects, "ExternalSecret")
	if got := toString(nested(t, es.Object, "spec", "secretStoreRef")); got != "map[kind:SecretStore name:team-vault]" {
		t.Errorf("object form: secretStoreRef = %s", got)
	}
}

func TestGhillieProduction(t *testing.T) {
	res := renderGhillie(t, "ghillie", readValues(t, "values-production.yaml"))
	deploy := find(t, res.Objects, "Deployment")
	if got := nested(t, deploy.Object, "spec", "replicas"); got != int64(2) {
		t.Errorf("replicas = %v, want 2", got)
	}
	if got := nested(t, find(t, res.Objects, "Ingress").Object, "spec", "ingressClassName"); got != "traefik" {
		t.Errorf("ingressClassName = %v, want traefik", got)
	}
	c := container(t, deploy)
	if got := toString(nested(t, c, "envFrom")); got != "[map[secretRef:map[name:ghillie-production]]]" {
		t.Errorf("envFrom = %s", got)
	}
	if got := nested(t, c, "resources", "limits", "memory"); got != "512Mi" {
		t.Errorf("memory limit = %v", got)
	}
}

func TestGhillieNoSecretNoEnvFrom(t *testing.T) {
	res := renderGhillie(t, "ghillie", nil)
	c := container(t, find(t, res.Objects, "Deployment"))
	if v, ok := c["envFrom"]; ok {
		t.Errorf("envFrom = %v without existingSecretName or ExternalSecret", v)
	}
}

func TestGhillieProbesCanBeTurnedOff(t *testing.T) {
	res := renderGhillie(t, "ghillie", parseValues(t, `
probes:
  liveness: {enabled: false}
  readiness: {enabled: false}
`))
	c := container(t, find(t, res.Objects, "Deployment"))
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		if v, ok := c[p]; ok {
			t.Errorf("%s = %v while disabled", p, v)
		}
	}
}

func TestGhillieConfigChangeRollsPods(t *testing.T) {
	checksum := func(values map[string]any) string {
		deploy := find(t, renderGhillie(t, "ghillie", values).Objects, "Deployment")
		sum, _ := nested(t, deploy.Object, "spec", "template", "metadata", "annotations", "checksum/config").(string)
		if len(sum) != 64 {
			t.Fatalf("checksum/config = %q, want a sha256", sum)
		}
		return sum
	}
	before := checksum(nil)
	if after := checksum(parseValues(t, "env: {normal: {GHILLIE_LOG_LEVEL: DEBUG}}")); after == before {
		t.Error("checksum/config unchanged after an env.normal change")
	}
	if same := checksum(parseValues(t, "replicaCount: 3")); same != before {
		t.Error("checksum/config changed without a config change")
	}
}

func TestGhillieRejectsBadValues(t *testing.T) {
	local := readValues(t, "values-local.yaml")
	cases := []struct {
		name   string
		values string
		want   []string // substrings the error must contain, naming the field
		schema bool     // rejected by values.schema.json (else by a template)
	}{
		{"unknown image key", "image: {tagg: v1}", []string{"/image", "tagg"}, true},
		{"unknown top-level key", "replicas: 2", []string{"replicas"}, true},
		{"pull policy", "image: {pullPolicy: Sometimes}", []string{"/image/pullPolicy"}, true},
		{"service port too high", "service: {port: 70000}", []string{"/service/port"}, true},
		{"service port zero", "service: {port: 0}", []string{"/service/port"}, true},
		{"service type", "service: {type: ExternalName}", []string{"/service/type"}, true},
		{"empty image tag", `image: {tag: ""}`, []string{"/image/tag"}, true},
		{"missing image repository", "image: {repository: null}", []string{"/image", "repository"}, true},
		{"ingress path type", `ingress: {hosts: [{host: "", paths: [{path: /, pathType: Foo}]}]}`, []string{"/ingress/hosts/0/paths/0/pathType"}, true},
		{"store kind", "secrets: {externalSecret: {secretStoreRef: {kind: Vault}}}", []string{"/secrets/externalSecret/secretStoreRef/kind"}, true},
		{"env value not a string", "env: {normal: {GHILLIE_ENV: 5}}", []string{"/env/normal/GHILLIE_ENV"}, true},
		{"negative replicas", "replicaCount: -1", []string{"/replicaCount"}, true},
		{"unknown probe key", "probes: {liveness: {port: 9000}}", []string{"/probes/liveness", "port"}, true},
		{"secretStoreRef an empty name", `secrets: {externalSecret: {secretStoreRef: ""}}`, []string{"/secrets/externalSecret/secretStoreRef"}, true},
		{"secretStoreRef neither name nor object", "secrets: {externalSecret: {secretStoreRef: [platform-vault]}}", []string{"/secrets/externalSecret/secretStoreRef"}, true},
		{
			"external secret without store",
			"secrets: {externalSecret: {enabled: true, data: [{secretKey: DATABASE_URL, remoteRef: {key: ghillie}}]}}",
			[]string{"secrets.externalSecret.secretStoreRef.name"}, false,
		},
		{
			"external secret without data",
			"secrets: {externalSecret: {enabled: true, secretStoreRef: {name: platform-vault}}}",
			[]string{"secrets.externalSecret.data"}, false,
		},
	}
	ch := loadGhillie(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := loader.MergeMaps(local, parseValues(t, tc.values))
			_, err := Render(context.Background(), ch, Options{ReleaseName: "ghillie", Namespace: "ghillie", Values: values})
			if err == nil {
				t.Fatalf("values %s rendered without error", tc.values)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not name %q:\n%v", want, err)
				}
			}
			if got := errors.Is(err, ErrInvalidValues); got != tc.schema {
				t.Errorf("errors.Is(err, ErrInvalidValues) = %v, want %v: %v", got, tc.schema, err)
			}
			if !strings.Contains(err.Error(), `chart "ghillie"`) {
				t.Errorf("error does not name the chart: %v", err)
			}
		})
	}
}

func toString(v any) string {
	return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " "))
}
