package diff

import (
	"strings"
	"testing"
)

// revise compares one object at two revisions and returns its warnings.
func revise(t *testing.T, before, after string) []Warning {
	t.Helper()
	r, err := Compare("base", objs(t, "a.yaml", before), "head", objs(t, "b.yaml", after), Revisions())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != 1 {
		t.Fatalf("want one difference, got %+v", r.Differences)
	}
	return r.Differences[0].Warnings
}

func TestEveryRefusedChangeIsFlagged(t *testing.T) {
	for name, tc := range map[string]struct {
		before, after, field string
	}{
		"deployment selector": {
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {selector: {matchLabels: {app: web}}, replicas: 1}}`,
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {selector: {matchLabels: {app: web2}}, replicas: 1}}`,
			"spec.selector",
		},
		"statefulset volumeClaimTemplates": {
			`{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db}, spec: {volumeClaimTemplates: [{metadata: {name: data}, spec: {resources: {requests: {storage: 1Gi}}}}]}}`,
			`{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db}, spec: {volumeClaimTemplates: [{metadata: {name: data}, spec: {resources: {requests: {storage: 2Gi}}}}]}}`,
			"spec.volumeClaimTemplates",
		},
		"job template": {
			`{apiVersion: batch/v1, kind: Job, metadata: {name: migrate}, spec: {template: {spec: {containers: [{name: m, image: "m:1"}]}}}}`,
			`{apiVersion: batch/v1, kind: Job, metadata: {name: migrate}, spec: {template: {spec: {containers: [{name: m, image: "m:2"}]}}}}`,
			"spec.template",
		},
		"pvc storage class": {
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {storageClassName: standard}}`,
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {storageClassName: fast}}`,
			"spec.storageClassName",
		},
		"pvc shrinks": {
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {resources: {requests: {storage: 1Gi}}}}`,
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {resources: {requests: {storage: 512Mi}}}}`,
			"spec.resources.requests.storage",
		},
		"service clusterIP": {
			`{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {clusterIP: 10.0.0.10}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {clusterIP: 10.0.0.11}}`,
			"spec.clusterIP",
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := revise(t, tc.before, tc.after)
			if len(w) != 1 || w[0].Field != tc.field {
				t.Fatalf("warnings %+v, want one on %s", w, tc.field)
			}
		})
	}
}

func TestAllowedChangesAreNotFlagged(t *testing.T) {
	for name, tc := range map[string]struct{ before, after string }{
		"deployment template": {
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {selector: {matchLabels: {app: web}}, template: {spec: {containers: [{name: w, image: "w:1"}]}}}}`,
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {selector: {matchLabels: {app: web}}, template: {spec: {containers: [{name: w, image: "w:2"}]}}}}`,
		},
		"pvc grows": {
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {resources: {requests: {storage: 1Gi}}}}`,
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {resources: {requests: {storage: 2Gi}}}}`,
		},
		"service gets a clusterIP": {
			`{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}]}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}], clusterIP: 10.0.0.10}}`,
		},
		"job labels": {
			`{apiVersion: batch/v1, kind: Job, metadata: {name: m, labels: {a: "1"}}, spec: {template: {}}}`,
			`{apiVersion: batch/v1, kind: Job, metadata: {name: m, labels: {a: "2"}}, spec: {template: {}}}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			if w := revise(t, tc.before, tc.after); len(w) != 0 {
				t.Errorf("flagged an allowed change: %+v", w)
			}
		})
	}
}

func TestPrunedDeletionsThatLoseDataAreFlagged(t *testing.T) {
	kustomization := func(prune bool) string {
		p := "false"
		if prune {
			p = "true"
		}
		return `{apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, metadata: {name: data, namespace: flux-system}, spec: {prune: ` + p + `}}`
	}
	for _, doc := range []string{
		`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data, namespace: app}}`,
		`{apiVersion: postgresql.cnpg.io/v1, kind: Cluster, metadata: {name: db, namespace: app}}`,
		`{apiVersion: hyperspike.io/v1, kind: Valkey, metadata: {name: cache, namespace: app}}`,
		`{apiVersion: v1, kind: Namespace, metadata: {name: app}}`,
		`{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: things.example.com}}`,
	} {
		for _, prune := range []bool{true, false} {
			before := objs(t, "a.yaml", kustomization(prune), doc)
			before[1].Origin.Kustomization = "flux-system/data"
			after := objs(t, "b.yaml", kustomization(prune))
			r, err := Compare("base", before, "head", after, Revisions())
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Differences) != 1 || r.Differences[0].Status != OnlyInA {
				t.Fatalf("%s: %+v", doc, r.Differences)
			}
			w := r.Differences[0].Warnings
			if prune && (len(w) != 1 || !strings.Contains(w[0].Message, "prune: true by Kustomization flux-system/data: loses")) {
				t.Errorf("pruned deletion of %s not flagged: %+v", doc, w)
			}
			if !prune && len(w) != 0 {
				t.Errorf("deletion of %s without prune flagged: %+v", doc, w)
			}
		}
	}
	// A ConfigMap loses nothing; and between two environments nothing is
	// deleted at all.
	cm := objs(t, "a.yaml", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}`, `{apiVersion: v1, kind: Namespace, metadata: {name: app}}`)
	if r, _ := Compare("base", cm, "head", nil, Revisions()); len(r.Differences[0].Warnings) != 0 || len(r.Differences[1].Warnings) != 1 {
		t.Errorf("root-applied deletions: %+v", r.Differences)
	}
	if r, _ := Compare("local", cm, "cloud", nil); len(r.Differences[1].Warnings) != 0 {
		t.Errorf("an object only one environment has was flagged as a deletion: %+v", r.Differences)
	}
}
