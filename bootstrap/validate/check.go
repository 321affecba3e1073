// Package validate checks what an environment deploys, with no network and
// no cluster: every object against its API schema, every reference between
// objects, and the rules the previews depend on (no duplicate object, no
// dependsOn cycle, no mutable image tag outside the local environment).
//
// Schemas come from three places. Built-in kinds are decoded strictly into
// client-go's Go types (unknown fields, duplicate fields and wrong types are
// errors) and their enumerated values are checked. Flux kinds are decoded
// strictly into the pinned Flux API types (where the tool imports them) and
// validated against the pinned controllers' CRDs, read from the embedded
// install manifests (bootstrap/flux). Every other kind is validated against the structural schema of the CRD the environment
// installs for it, as the API server would: unknown fields (what it would
// prune), then on the defaulted object types, enums, required fields,
// patterns, bounds and the CRD's CEL rules (x-kubernetes-validations). A kind no CRD
// serves is a finding.
//
// Reference rules:
//   - the objects a cluster's bootstrap creates (BootstrapObjects: the root
//     OCIRepository and Kustomization flux-system and the cluster-vars
//     ConfigMap in flux-system) and the build's fixtures are not in Git and
//     always resolve;
//   - Kustomization spec.sourceRef and spec.dependsOn (namespace defaults to
//     the referrer's); its spec.postBuild.substituteFrom is checked by the
//     build, which substitutes from what it names;
//   - HelmRelease spec.chart.spec.sourceRef, spec.chartRef (exactly one of
//     spec.chart and spec.chartRef), spec.dependsOn and non-optional
//     spec.valuesFrom; HelmChart spec.sourceRef;
//   - ExternalSecret spec.secretStoreRef (SecretStore in its namespace, or
//     ClusterSecretStore);
//   - notification: Alert spec.providerRef (a Provider) and
//     spec.eventSources, Receiver spec.resources (each a Flux object; name
//     "*" matches any), Receiver and Provider Secret references;
//   - image: ImagePolicy spec.imageRepositoryRef, ImageUpdateAutomation
//     spec.sourceRef (a GitRepository), ImageRepository Secret references
//     and serviceAccountName; source-watcher: ArtifactGenerator
//     spec.sources; a Secret these name resolves as an envFrom Secret does;
//   - Ingress backends name a Service in the Ingress's namespace, and a pod
//     template's serviceAccountName (other than "default") a ServiceAccount
//     in its namespace;
//   - a namespaced object's namespace is a Namespace object of the
//     environment, the targetNamespace of a Kustomization, the release
//     namespace of a HelmRelease with install.createNamespace, or one of
//     default, kube-system, kube-public, kube-node-lease and flux-system;
//   - a pod template's non-optional envFrom ConfigMap must be declared; its
//     non-optional envFrom Secret must be declared, be the target of an
//     ExternalSecret in the same namespace, or be a Secret an operator
//     creates for a declared cluster (CloudNativePG "<cluster>-app",
//     "-superuser", "-ca", "-server", "-replication"; Valkey "<name>"). In
//     the local environment such Secrets are always allowed: `gitops-local
//     up` creates the application Secret there, where the cloud uses an
//     ExternalSecret.
package validate

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// Checker runs the checks. It compiles CRD schemas once and reuses them for
// every environment that installs the same CRD; it is safe for concurrent
// use.
type Checker struct {
	schemas *schemas
}

// NewChecker returns a Checker with the embedded Flux CRDs compiled.
func NewChecker() (*Checker, error) {
	s, err := newSchemas()
	if err != nil {
		return nil, fmt.Errorf("preparing schemas: %w", err)
	}
	return &Checker{schemas: s}, nil
}

// Check runs every check over one environment's objects, given the CRDs the
// environment installs, and returns the findings, sorted. env names the
// environment in each finding.
func (c *Checker) Check(ctx context.Context, env string, objs []manifest.Object, crds []*apiextensionsv1.CustomResourceDefinition) []manifest.Finding {
	return c.check(ctx, env, objs, crds, nil, nil)
}

// check is Check, sharing work with the other environments of a run
// through memo (nil: no sharing); references to the objects in cluster
// (the build's fixtures: in the cluster, not in Git) resolve.
func (c *Checker) check(ctx context.Context, env string, objs []manifest.Object, crds []*apiextensionsv1.CustomResourceDefinition, memo *runMemo, cluster []manifest.Object) []manifest.Finding {
	schemaIx, findings := c.schemas.index(crds, memo)
	for i := range findings {
		findings[i].Environment = env
	}
	envIx := newEnvIndex(env, objs, schemaIx, cluster)
	for _, o := range objs {
		if o.Unstructured == nil {
			continue
		}
		// The schema and the reference checks can both object to a field
		// (an unsupported sourceRef kind): report it once.
		var own []manifest.Finding
		own = append(own, checkSchema(ctx, env, schemaIx, o, memo)...)
		own = append(own, checkRefs(envIx, o)...)
		own = append(own, checkImageTags(env, o)...)
		findings = append(findings, dedupeFields(own)...)
	}
	findings = append(findings, checkDuplicates(env, objs)...)
	findings = append(findings, checkCycles(env, objs)...)
	manifest.SortFindings(findings)
	return findings
}
