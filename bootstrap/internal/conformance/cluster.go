package conformance

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/gitops"
)

// CompareCluster compares what the Flux controllers applied in the cluster
// c (every Kustomization's inventory, every HelmRelease's release) with
// the offline build built, and returns every difference (see Compare).
// Tests of other packages call it too: up's test holds the local
// environment to it.
func CompareCluster(ctx context.Context, t testing.TB, c client.Client, built *gitops.Environment) []string {
	t.Helper()
	applied := appliedByKustomizations(ctx, t, c)
	var fromKs []*unstructured.Unstructured
	byRelease := map[string][]*unstructured.Unstructured{}
	var releases []string
	for _, o := range built.Objects {
		gvk := o.GroupVersionKind()
		if gvk.Group == helmv2.GroupVersion.Group && gvk.Kind == helmv2.HelmReleaseKind {
			releases = append(releases, o.GetNamespace()+"/"+o.GetName())
		}
		if o.Origin.HelmRelease != "" {
			byRelease[o.Origin.HelmRelease] = append(byRelease[o.Origin.HelmRelease], o.Unstructured)
			continue
		}
		fromKs = append(fromKs, o.Unstructured)
	}
	diffs := Compare(fromKs, applied)
	for _, hr := range releases {
		diffs = append(diffs, compareRelease(ctx, t, c, hr, byRelease[hr])...)
	}
	return diffs
}

// appliedByKustomizations reads every object in the inventory of every
// Kustomization, with the fields kustomize-controller owns.
func appliedByKustomizations(ctx context.Context, t testing.TB, c client.Client) map[string]Applied {
	t.Helper()
	list := &kustomizev1.KustomizationList{}
	if err := c.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	out := map[string]Applied{}
	for _, ks := range list.Items {
		if ks.Status.Inventory == nil {
			continue
		}
		for _, e := range ks.Status.Inventory.Entries {
			id, err := object.ParseObjMetadata(e.ID)
			if err != nil {
				t.Fatalf("inventory of %s/%s: %v", ks.Namespace, ks.Name, err)
			}
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: id.GroupKind.Group, Version: e.Version, Kind: id.GroupKind.Kind})
			if err := c.Get(ctx, client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, u); err != nil {
				t.Fatalf("inventory of %s/%s: %s: %v", ks.Namespace, ks.Name, e.ID, err)
			}
			out[Key(u)] = Applied{Live: u, Managed: managedBy(u, "kustomize-controller")}
		}
	}
	return out
}

// managedBy returns the FieldsV1 of the fields manager applied.
func managedBy(u *unstructured.Unstructured, manager string) []byte {
	for _, m := range u.GetManagedFields() {
		if m.Manager == manager && m.Operation == metav1.ManagedFieldsOperationApply && m.FieldsV1 != nil {
			return m.FieldsV1.GetRawBytes()
		}
	}
	return nil
}

// compareRelease compares what the offline build rendered for the
// HelmRelease key with the manifest and hooks of the release
// helm-controller installed (read from Helm's storage Secret), objects
// equal both ways; CRDs from the chart's crds/ folder are not in the
// manifest and are compared with the live CRD.
func compareRelease(ctx context.Context, t testing.TB, c client.Client, key string, want []*unstructured.Unstructured) []string {
	t.Helper()
	ns, name, _ := strings.Cut(key, "/")
	hr := &helmv2.HelmRelease{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, hr); err != nil {
		t.Fatal(err)
	}
	latest := hr.Status.History.Latest()
	if latest == nil {
		return []string{key + ": no release in the HelmRelease's history"}
	}
	secret := &corev1.Secret{}
	secretName := fmt.Sprintf("sh.helm.release.v1.%s.v%d", latest.Name, latest.Version)
	if err := c.Get(ctx, client.ObjectKey{Namespace: hr.Status.StorageNamespace, Name: secretName}, secret); err != nil {
		t.Fatalf("%s: release storage: %v", key, err)
	}
	rel := decodeRelease(t, secret.Data["release"])
	manifests := append([]string{rel.Manifest}, rel.appliedHooks()...)
	got := map[string]Applied{}
	for _, m := range manifests {
		for _, u := range splitDocs(t, m) {
			if u.GetNamespace() == "" {
				if namespaced, err := c.IsObjectNamespaced(u); err == nil && namespaced {
					u.SetNamespace(latest.Namespace)
				}
			}
			got[Key(u)] = Applied{Live: u, Exact: true}
		}
	}
	var fromManifest []*unstructured.Unstructured
	var diffs []string
	for _, w := range want {
		if _, ok := got[Key(w)]; !ok && w.GetKind() == "CustomResourceDefinition" {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(w.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKey{Name: w.GetName()}, live); err != nil {
				diffs = append(diffs, fmt.Sprintf("%s: CRD %s from crds/: %v", key, w.GetName(), err))
				continue
			}
			got[Key(w)] = Applied{Live: live, Managed: managedBy(live, "helm-controller")}
		}
		fromManifest = append(fromManifest, w)
	}
	for _, d := range Compare(fromManifest, got) {
		diffs = append(diffs, "release "+key+": "+d)
	}
	return diffs
}

// release is the part of a Helm release record the suite reads.
type release struct {
	Manifest string `json:"manifest"`
	Hooks    []struct {
		Manifest string   `json:"manifest"`
		Events   []string `json:"events"`
		LastRun  struct {
			Phase string `json:"phase"`
		} `json:"last_run"`
	} `json:"hooks"`
}

// appliedHooks are the manifests of the release's hooks Helm applied:
// the record keeps every hook rendered, but test hooks run only on
// request, and a hook with no last run never ran (spec.install.disableHooks).
func (r release) appliedHooks() []string {
	var out []string
	for _, h := range r.Hooks {
		if !isTestHook(h.Events) && h.LastRun.Phase != "" {
			out = append(out, h.Manifest)
		}
	}
	return out
}

// decodeRelease decodes Helm's storage format: base64 of gzipped JSON.
func decodeRelease(t testing.TB, data []byte) release {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		t.Fatalf("release record: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("release record: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("release record: %v", err)
	}
	var r release
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("release record: %v", err)
	}
	return r
}

func isTestHook(events []string) bool {
	for _, e := range events {
		if e == "test" || e == "test-success" {
			return true
		}
	}
	return false
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func splitDocs(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range docSep.Split(manifest, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		// Through JSON, so that numbers are int64 as the build's are.
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("release manifest: %v", err)
		}
		if string(raw) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatalf("release manifest: %v", err)
		}
		out = append(out, u)
	}
	return out
}
