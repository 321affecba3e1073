package validate

import (
	"context"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/manifest"
)

var (
	checkerOnce sync.Once
	checker     *Checker
	checkerErr  error
)

func testChecker(t testing.TB) *Checker {
	t.Helper()
	checkerOnce.Do(func() { checker, checkerErr = NewChecker() })
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return checker
}

// objects decodes a multi-document YAML stream into objects, each with the
// given file and its document's line.
func objects(t *testing.T, file, stream string) []manifest.Object {
	t.Helper()
	var out []manifest.Object
	line := 1
	for _, doc := range strings.Split(stream, "\n---\n") {
		start := line
		line += strings.Count(doc, "\n") + 2
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("test YAML at line %d: %v", start, err)
		}
		out = append(out, manifest.Object{Unstructured: &unstructured.Unstructured{Object: m}, Origin: manifest.Origin{File: file, Line: start}})
	}
	return out
}

// testCRD is a small namespaced CRD in the shape of valkey-operator's, with a
// required field, an enum and a bound.
const testCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: valkeys.hyperspike.io
spec:
  group: hyperspike.io
  scope: Namespaced
  names: {kind: Valkey, plural: valkeys, singular: valkey, listKind: ValkeyList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [nodes]
            x-kubernetes-validations:
            - rule: "self.nodes <= 9"
              message: "at most 9 nodes"
            properties:
              nodes: {type: integer, minimum: 1}
              tls: {type: boolean}
              mode: {type: string, enum: [cluster, standalone]}
              storage:
                type: object
                x-kubernetes-preserve-unknown-fields: true
`

func crds(t *testing.T, docs ...string) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, d := range docs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict([]byte(d), crd); err != nil {
			t.Fatal(err)
		}
		out = append(out, crd)
	}
	return out
}

// base is a small environment that validates clean.
const base = `
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: repo, namespace: flux-system}
spec:
  interval: 1m
  url: oci://registry.local/gitops
  ref: {tag: v1}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: flux-system}
spec:
  interval: 10m
  path: ./infra
  prune: true
  sourceRef: {kind: OCIRepository, name: repo}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  dependsOn: [{name: infra}]
  sourceRef: {kind: OCIRepository, name: repo}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec:
  interval: 1h
  url: https://charts.example.com
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: app}
spec:
  interval: 10m
  chart:
    spec:
      chart: web
      version: 1.2.3
      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}
  values:
    image: {tag: v1}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: vault}
spec:
  provider: {}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: web, namespace: app}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: web-env}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:v1
        imagePullPolicy: IfNotPresent
        envFrom: [{secretRef: {name: web-env}}]
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  ports: [{port: 80, targetPort: http}]
  selector: {app: web}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: app}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: hyperspike.io/v1
kind: Valkey
metadata: {name: cache, namespace: app}
spec:
  nodes: 1
  storage: {anything: goes}
`

// esoCRDs are minimal External Secrets CRDs that accept anything, for the
// reference tests.
func esoCRDs() []string {
	var out []string
	for _, k := range []struct{ kind, plural, scope string }{
		{"ExternalSecret", "externalsecrets", "Namespaced"},
		{"ClusterSecretStore", "clustersecretstores", "Cluster"},
		{"SecretStore", "secretstores", "Namespaced"},
	} {
		out = append(out, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: `+k.plural+`.external-secrets.io
spec:
  group: external-secrets.io
  scope: `+k.scope+`
  names: {kind: `+k.kind+`, plural: `+k.plural+`}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`)
	}
	return out
}

func checkStream(t *testing.T, env, stream string) []manifest.Finding {
	t.Helper()
	return testChecker(t).Check(context.Background(), env, objects(t, "env.yaml", stream), crds(t, append(esoCRDs(), testCRD)...))
}

func TestBaseIsClean(t *testing.T) {
	for _, env := range []string{"local", "ephemeral/pr-1"} {
		if fs := checkStream(t, env, base); len(fs) != 0 {
			t.Errorf("%s: want no findings, got:\n%s", env, join(fs))
		}
	}
}

func join(fs []manifest.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestChecks breaks the clean base one way per case and expects exactly the
// finding that names the breakage.
func TestChecks(t *testing.T) {
	cases := []struct {
		name     string
		env      string
		old, new string // replaced once in base; new may append documents
		object   string
		field    string
		message  string
	}{
		{"unknown field in built-in", "", "imagePullPolicy: IfNotPresent", "imagePullPolicy: IfNotPresent\n        imagePullPolice: Always",
			"Deployment/app/web", "spec.template.spec.containers[0].imagePullPolice", `unknown field "imagePullPolice"`},
		{"wrong type in built-in", "", "containerPort: 8080", "containerPort: eighty",
			"Deployment/app/web", "spec.template.spec.containers.ports.containerPort", "wrong type"},
		{"bad enum in built-in", "", "imagePullPolicy: IfNotPresent", "imagePullPolicy: Sometimes",
			"Deployment/app/web", "spec.template.spec.containers[0].imagePullPolicy", `Unsupported value: "Sometimes"`},
		{"invalid ingress pathType", "", "pathType: Prefix", "pathType: Prefixx",
			"Ingress/app/web", "spec.rules[0].http.paths[0].pathType", `Unsupported value: "Prefixx"`},
		{"missing ingress pathType", "", "pathType: Prefix", "",
			"Ingress/app/web", "spec.rules[0].http.paths[0].pathType", "Required value"},
		{"ingress backend missing", "", "service: {name: web, port", "service: {name: webb, port",
			"Ingress/app/web", "spec.rules[0].http.paths[0].backend.service.name", "Service app/webb does not exist"},
		{"unknown field in Flux kind", "", "prune: true\n  dependsOn", "prune: true\n  prunee: true\n  dependsOn",
			"Kustomization/flux-system/apps", "spec.prunee", `unknown field "prunee"`},
		{"Flux enum from CRD schema", "", "sourceRef: {kind: OCIRepository, name: repo}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository",
			"sourceRef: {kind: OCIRepositoryy, name: repo}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository",
			"Kustomization/flux-system/apps", "spec.sourceRef.kind", "Unsupported value"},
		{"Flux required field from CRD schema", "", "  interval: 1h\n  url: https://charts.example.com", "  interval: 1h",
			"HelmRepository/flux-system/charts", "spec.url", "Required value"},
		{"unknown CRD field", "", "nodes: 1", "nodes: 1\n  nodez: 2",
			"Valkey/app/cache", "spec.nodez", `unknown field "nodez"`},
		{"missing required CRD field", "", "nodes: 1", "tls: false",
			"Valkey/app/cache", "spec.nodes", "Required value"},
		{"CRD bound", "", "nodes: 1", "nodes: 0",
			"Valkey/app/cache", "spec.nodes", "should be greater than or equal to 1"},
		{"CRD CEL rule", "", "nodes: 1", "nodes: 10",
			"Valkey/app/cache", "spec", "at most 9 nodes"},
		{"CRD version that does not exist", "", "apiVersion: hyperspike.io/v1\n", "apiVersion: hyperspike.io/v1alpha1\n",
			"Valkey/app/cache", "apiVersion", `no CRD for group "hyperspike.io" version "v1alpha1" kind "Valkey" (served versions: v1)`},
		{"CRD group that does not exist", "", "apiVersion: hyperspike.io/v1\n", "apiVersion: valkey.io/v1alpha1\n",
			"Valkey/app/cache", "apiVersion", `no CRD for group "valkey.io" version "v1alpha1" kind "Valkey"`},
		{"built-in version that does not exist", "", "apiVersion: networking.k8s.io/v1\n", "apiVersion: networking.k8s.io/v2\n",
			"Ingress/app/web", "apiVersion", `no built-in API for group "networking.k8s.io" version "v2"`},
		{"dependsOn missing", "", "dependsOn: [{name: infra}]", "dependsOn: [{name: infra}, {name: platform}]",
			"Kustomization/flux-system/apps", "spec.dependsOn[1]", "Kustomization flux-system/platform does not exist"},
		{"dependsOn cycle", "", "  path: ./infra\n", "  path: ./infra\n  dependsOn: [{name: apps}]\n",
			"Kustomization/flux-system/apps", "spec.dependsOn[0]", "dependsOn cycle: flux-system/apps -> flux-system/infra -> flux-system/apps"},
		{"sourceRef missing", "", "sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}", "sourceRef: {kind: HelmRepository, name: chartz, namespace: flux-system}",
			"HelmRelease/app/web", "spec.chart.spec.sourceRef", "HelmRepository flux-system/chartz does not exist"},
		{"chartRef to missing source", "", "  chart:\n    spec:\n      chart: web\n      version: 1.2.3\n      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}\n",
			"  chartRef: {kind: OCIRepository, name: web-chart, namespace: flux-system}\n",
			"HelmRelease/app/web", "spec.chartRef", "OCIRepository flux-system/web-chart does not exist"},
		{"both chart and chartRef", "", "  values:\n    image", "  chartRef: {kind: OCIRepository, name: repo, namespace: flux-system}\n  values:\n    image",
			"HelmRelease/app/web", "spec", "chartRef must be set"},
		{"valuesFrom missing", "", "  values:\n    image", "  valuesFrom: [{kind: ConfigMap, name: web-values}]\n  values:\n    image",
			"HelmRelease/app/web", "spec.valuesFrom[0]", "ConfigMap app/web-values does not exist"},
		{"store missing", "", "secretStoreRef: {kind: ClusterSecretStore, name: vault}", "secretStoreRef: {kind: ClusterSecretStore, name: vault-kv}",
			"ExternalSecret/app/web", "spec.secretStoreRef", "ClusterSecretStore vault-kv does not exist"},
		{"namespaced store missing", "", "secretStoreRef: {kind: ClusterSecretStore, name: vault}", "secretStoreRef: {name: vault}",
			"ExternalSecret/app/web", "spec.secretStoreRef", "SecretStore app/vault does not exist"},
		{"namespace missing", "", "kind: Service\nmetadata: {name: web, namespace: app}", "kind: Service\nmetadata: {name: web, namespace: ap}",
			"Service/ap/web", "metadata.namespace", `namespace "ap" does not exist`},
		{"envFrom secret nothing creates", "ephemeral/pr-1", "target: {name: web-env}", "target: {name: web-envv}",
			"Deployment/app/web", "spec.template.spec.containers[0].envFrom[0].secretRef", "Secret app/web-env does not exist"},
		{"duplicate object", "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n", "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n",
			"Namespace/app", "metadata.name", "duplicate object: Namespace/app is also declared in env.yaml:1"},
		{"latest tag", "ephemeral/pr-1", "image: registry.example.com/web:v1", "image: registry.example.com/web:latest",
			"Deployment/app/web", "spec.template.spec.containers[0].image", `mutable image reference "registry.example.com/web:latest"`},
		{"no tag", "staging", "image: registry.example.com/web:v1", "image: registry.example.com:5000/web",
			"Deployment/app/web", "spec.template.spec.containers[0].image", "mutable image reference"},
		{"service account missing", "", "    spec:\n      containers:\n      - name: web", "    spec:\n      serviceAccountName: web\n      containers:\n      - name: web",
			"Deployment/app/web", "spec.template.spec.serviceAccountName", "ServiceAccount app/web does not exist"},
		{"bad name", "", "metadata: {name: web, namespace: app}\nspec:\n  ports", "metadata: {name: Web_1, namespace: app}\nspec:\n  ports",
			"Service/app/Web_1", "metadata.name", "Invalid value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(base, tc.old) != 1 {
				t.Fatalf("%q occurs %d times in base", tc.old, strings.Count(base, tc.old))
			}
			env := tc.env
			if env == "" {
				env = "ephemeral/pr-1"
			}
			fs := checkStream(t, env, strings.Replace(base, tc.old, tc.new, 1))
			if len(fs) == 0 {
				t.Fatal("no findings")
			}
			found := false
			for _, f := range fs {
				if f.Object == tc.object && f.Field == tc.field && strings.Contains(f.Message, tc.message) && f.File == "env.yaml" && f.Line > 0 && f.Environment == env {
					found = true
				}
			}
			if !found {
				t.Errorf("want finding %s %s %q, got:\n%s", tc.object, tc.field, tc.message, join(fs))
			}
			if len(fs) > 1 && tc.name != "duplicate object" {
				t.Logf("more than one finding:\n%s", join(fs))
			}
		})
	}
}

func TestLocalAllowsRuntimeSecretsAndMutableTags(t *testing.T) {
	s := strings.Replace(base, "target: {name: web-env}", "target: {name: other}", 1)
	s = strings.Replace(s, "web:v1", "web:latest", 1)
	if fs := checkStream(t, "local", s); len(fs) != 0 {
		t.Errorf("want no findings in local, got:\n%s", join(fs))
	}
	if fs := checkStream(t, "ephemeral/pr-1", s); len(fs) != 2 {
		t.Errorf("want two findings outside local, got:\n%s", join(fs))
	}
}

func TestOperatorSecretsAreAllowed(t *testing.T) {
	s := strings.Replace(base, "secretRef: {name: web-env}", "secretRef: {name: cache}", 1)
	if fs := checkStream(t, "staging", s); len(fs) != 0 {
		t.Errorf("the Valkey operator creates Secret cache: want no findings, got:\n%s", join(fs))
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	s := strings.Replace(base, "pathType: Prefix", "pathType: Prefixx", 1)
	s = strings.Replace(s, "nodes: 1", "nodes: 0\n  nodez: 1", 1)
	s = strings.Replace(s, "dependsOn: [{name: infra}]", "dependsOn: [{name: platform}]", 1)
	fs := checkStream(t, "staging", s)
	if len(fs) != 4 {
		t.Fatalf("want 4 findings, got:\n%s", join(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i-1].Line > fs[i].Line {
			t.Errorf("findings not sorted by line:\n%s", join(fs))
		}
	}
}

func TestMutableImage(t *testing.T) {
	for ref, want := range map[string]bool{
		"nginx":                      true,
		"nginx:latest":               true,
		"localhost:5000/nginx":       true,
		"localhost:5000/nginx:1.2":   false,
		"nginx@sha256:0123":          false,
		"nginx:latest@sha256:0123":   false,
		"ghcr.io/a/b:sha-abc":        false,
		"registry:5000/a/b:latest":   true,
		"registry:5000/a/b:v0.0.61a": false,
	} {
		if got := mutableImage(ref); got != want {
			t.Errorf("mutableImage(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestCycleOfOneAndThree(t *testing.T) {
	s := `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: a, namespace: x}
spec: {dependsOn: [{name: b}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: b, namespace: x}
spec: {dependsOn: [{name: c}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: c, namespace: x}
spec: {dependsOn: [{name: d}, {name: a}]}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: d, namespace: x}
spec: {dependsOn: [{name: d}]}
`
	fs := checkCycles("e", objects(t, "f.yaml", s))
	if len(fs) != 2 {
		t.Fatalf("want 2 cycles, got:\n%s", join(fs))
	}
	if fs[0].Message != "dependsOn cycle: x/a -> x/b -> x/c -> x/a" || fs[0].Object != "HelmRelease/x/a" || fs[0].Field != "spec.dependsOn[0]" {
		t.Errorf("first cycle: %s", fs[0])
	}
	if fs[1].Message != "dependsOn cycle: x/d -> x/d" || fs[1].Field != "spec.dependsOn[0]" {
		t.Errorf("second cycle: %s", fs[1])
	}
}

// TestCRDsAreBuiltin checks that CustomResourceDefinitions are validated as
// the built-in kind they are, strictly.
func TestCRDsAreBuiltin(t *testing.T) {
	s := testCRD + "  bogus: 1\n"
	fs := checkStream(t, "staging", s)
	if len(fs) != 1 || fs[0].Object != "CustomResourceDefinition/valkeys.hyperspike.io" || fs[0].Field != "spec.bogus" {
		t.Errorf("want one unknown-field finding on the CRD, got:\n%s", join(fs))
	}
}

// TestFixturesResolveReferences: an object only the cluster has (a build's
// fixture) satisfies a reference as one the environment deploys does.
func TestFixturesResolveReferences(t *testing.T) {
	s := strings.Replace(base, "  values:\n    image", "  valuesFrom: [{kind: ConfigMap, name: web-values}]\n  values:\n    image", 1)
	env := &gitops.Environment{Name: "ephemeral/pr-1", Objects: objects(t, "env.yaml", s), CRDs: crds(t, append(esoCRDs(), testCRD)...)}
	fs := testChecker(t).CheckEnvironment(context.Background(), env)
	if len(fs) != 1 || fs[0].Field != "spec.valuesFrom[0]" {
		t.Fatalf("without the fixture: want the valuesFrom finding, got:\n%s", join(fs))
	}
	env.Fixtures = objects(t, "fixtures/cluster.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-values, namespace: app}\n")
	if fs := testChecker(t).CheckEnvironment(context.Background(), env); len(fs) != 0 {
		t.Errorf("with the fixture: want no findings, got:\n%s", join(fs))
	}
}
