package validate

// brokenCase is one way to break the repository and the finding that must
// name it.
type brokenCase struct {
	name  string
	edits []edit
	want  want
}

// brokenCases each break the repository in one place. Some are caught while
// building (malformed YAML, a missing patch target, chart values against the
// chart's schema), the others by the checks; either way the finding must
// name the file, the object and the field.
var brokenCases = []brokenCase{
	{
		name: "unknown values key",
		edits: []edit{{"gitops/apps/ghillie/app/helmrelease.yaml",
			"    replicaCount: 1\n", "    replicaCount: 1\n    replicaCountt: 2\n"}},
		want: want{env: "local", file: "gitops/apps/ghillie/app/helmrelease.yaml", object: "HelmRelease/ghillie/ghillie", field: "spec.values.replicaCountt", message: "unknown key"},
	},
	{
		name: "CRD group that does not exist",
		edits: []edit{{"gitops/apps/ghillie/data/valkey.yaml",
			"apiVersion: hyperspike.io/v1\n", "apiVersion: valkey.io/v1alpha1\n"}},
		want: want{env: "staging", file: "gitops/apps/ghillie/data/valkey.yaml", object: "Valkey/ghillie/ghillie-valkey", field: "apiVersion",
			message: `no CRD for group "valkey.io" version "v1alpha1" kind "Valkey"`},
	},
	{
		name: "CRD version that does not exist",
		edits: []edit{{"gitops/apps/ghillie/data/postgres.yaml",
			"apiVersion: postgresql.cnpg.io/v1\n", "apiVersion: postgresql.cnpg.io/v2\n"}},
		want: want{env: "production", file: "gitops/apps/ghillie/data/postgres.yaml", object: "Cluster/ghillie/ghillie-db", field: "apiVersion",
			message: `no CRD for group "postgresql.cnpg.io" version "v2" kind "Cluster" (served versions: v1)`},
	},
	{
		// servicePassword is a SecretKeySelector: key is required and has no
		// default.
		name: "missing required CRD field",
		edits: []edit{{"gitops/apps/ghillie/data/valkey.yaml",
			"  replicas: 0\n", "  replicas: 0\n  servicePassword:\n    name: ghillie-valkey-password\n"}},
		want: want{env: "staging", file: "gitops/apps/ghillie/data/valkey.yaml", object: "Valkey/ghillie/ghillie-valkey", field: "spec.servicePassword.key", message: "Required value"},
	},
	{
		name: "unknown CRD field",
		edits: []edit{{"gitops/apps/ghillie/data/valkey.yaml",
			"  replicas: 0\n", "  replicas: 0\n  replicaz: 1\n"}},
		want: want{env: "production", file: "gitops/apps/ghillie/data/valkey.yaml", object: "Valkey/ghillie/ghillie-valkey", field: "spec.replicaz", message: "unknown field"},
	},
	{
		name: "patch whose target does not exist",
		edits: []edit{{"overlays/local/ghillie.yaml",
			"        kind: Valkey\n        name: ghillie-valkey\n", "        kind: Valkey\n        name: ghillie-valkeyy\n"}},
		want: want{env: "local", file: "overlays/local/ghillie.yaml", object: "Kustomization/flux-system/ghillie-data", field: "spec.patches[1]", message: ""},
	},
	{
		name: "dependsOn a missing Kustomization",
		edits: []edit{{"overlays/local/ghillie.yaml",
			"    - name: ghillie-data\n", "    - name: ghillie-dataa\n"}},
		want: want{env: "local", file: "overlays/local/ghillie.yaml", object: "Kustomization/flux-system/ghillie-app", field: "spec.dependsOn[0]",
			message: "flux-system/ghillie-dataa"},
	},
	{
		name: "dependsOn cycle",
		edits: []edit{{"overlays/local/platform.yaml",
			"  name: platform-cloudnative-pg\n  namespace: flux-system\nspec:\n", "  name: platform-cloudnative-pg\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: ghillie-app\n"}},
		want: want{env: "local", file: "overlays/local/ghillie.yaml", object: "Kustomization/flux-system/ghillie-app", field: "spec.dependsOn[0]",
			message: "dependsOn cycle: flux-system/ghillie-app -> flux-system/ghillie-data -> flux-system/platform-cloudnative-pg -> flux-system/ghillie-app"},
	},
	{
		name: "chartRef to a missing source",
		edits: []edit{{"gitops/apps/ghillie/app/helmrelease.yaml",
			"    name: ghillie-chart\n", "    name: ghillie-chartt\n"}},
		want: want{env: "local", file: "gitops/apps/ghillie/app/helmrelease.yaml", object: "HelmRelease/ghillie/ghillie", field: "spec.chartRef", message: "ghillie-chartt"},
	},
	{
		name: "malformed YAML",
		edits: []edit{{"gitops/apps/ghillie/data/valkey.yaml",
			"  replicas: 0\n", "  replicas: 0\n   resources: [\n"}},
		want: want{env: "local", file: "gitops/apps/ghillie/data/valkey.yaml", line: 11, object: "Kustomization/flux-system/ghillie-data", message: "malformed YAML"},
	},
	{
		name: "duplicate object",
		edits: []edit{
			{"gitops/apps/ghillie/app/namespace.yaml", "", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ghillie\n"},
			{"gitops/apps/ghillie/app/kustomization.yaml", "  - helmrelease.yaml\n", "  - helmrelease.yaml\n  - namespace.yaml\n"},
		},
		// Caught while building: two Kustomizations applying one object.
		want: want{env: "local", file: "gitops/apps/ghillie/app/namespace.yaml", object: "Namespace/ghillie",
			message: "flux-system/ghillie-data"},
	},
	{
		name: "latest tag",
		edits: []edit{{"overlays/staging/ghillie.yaml",
			"              tag: sha-4f2c1e9\n", "              tag: latest\n"}},
		want: want{env: "staging", file: "charts/ghillie/templates/deployment.yaml", object: "Deployment/ghillie/ghillie", field: "spec.template.spec.containers[0].image",
			message: `mutable image reference "ghcr.io/leynos/ghillie:latest"`},
	},
	{
		name: "invalid Ingress pathType in chart values",
		edits: []edit{{"overlays/ephemeral/pr-123/ghillie.yaml",
			"                      pathType: Prefix\n", "                      pathType: Prefixx\n"}},
		// Caught while building, by the chart's values schema. The finding
		// names the HelmRelease's own file, where the overlay's patch lands.
		want: want{env: "ephemeral/pr-123", file: "gitops/apps/ghillie/app/helmrelease.yaml", object: "HelmRelease/pr-123/ghillie",
			field: "spec.values.ingress.hosts[0].paths[0].pathType", message: "value must be one of"},
	},
	{
		name: "invalid Ingress pathType in a manifest",
		edits: []edit{
			{"gitops/apps/ghillie/app/ingress.yaml", "", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: extra
  namespace: ghillie
spec:
  rules:
    - http:
        paths:
          - path: /extra
            pathType: Prefixx
            backend:
              service:
                name: ghillie
                port:
                  number: 8080
`},
			{"gitops/apps/ghillie/app/kustomization.yaml", "  - helmrelease.yaml\n", "  - helmrelease.yaml\n  - ingress.yaml\n"},
		},
		want: want{env: "local", file: "gitops/apps/ghillie/app/ingress.yaml", object: "Ingress/ghillie/extra", field: "spec.rules[0].http.paths[0].pathType",
			message: `Unsupported value: "Prefixx"`},
	},
	{
		name: "ExternalSecret whose store does not exist",
		edits: []edit{{"overlays/ephemeral/pr-123/ghillie.yaml",
			"                  name: platform-vault\n", "                  name: vault-kv\n"}},
		want: want{env: "ephemeral/pr-123", file: "charts/ghillie/templates/externalsecret.yaml", object: "ExternalSecret/pr-123/ghillie", field: "spec.secretStoreRef",
			message: "ClusterSecretStore vault-kv does not exist"},
	},
	{
		name: "unknown field in a Flux Kustomization",
		edits: []edit{{"overlays/production/platform.yaml",
			"  prune: true\n", "  prune: true\n  prunne: true\n"}},
		want: want{env: "production", file: "overlays/production/platform.yaml", object: "Kustomization/flux-system/platform-cloudnative-pg", field: "spec.prunne", message: "unknown field"},
	},
	{
		name: "namespace nothing creates",
		edits: []edit{{"gitops/platform/valkey-operator/kustomization.yaml",
			"  - namespace.yaml\n", ""}},
		want: want{env: "local", file: "gitops/platform/valkey-operator/helmrelease.yaml", object: "HelmRelease/valkey-operator-system/valkey-operator", field: "metadata.namespace",
			message: `namespace "valkey-operator-system" does not exist`},
	},
}
