package reconcile

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Actions a Change reports. The first three are kustomize-controller's own
// words in its change set events; the others are helm-controller's release
// actions.
const (
	Created    = "created"
	Configured = "configured"
	Deleted    = "deleted"
	Installed  = "installed"
	Upgraded   = "upgraded"
	RolledBack = "rolled back"
)

// Change is one thing Flux did while applying a revision: an object a
// Kustomization created, configured or deleted, or a HelmRelease's release.
type Change struct {
	// By is the Kustomization or HelmRelease that did it.
	By Ref `json:"by"`
	// Object is "Kind/namespace/name" ("Kind/name" when cluster-scoped).
	Object string `json:"object"`
	Action string `json:"action"`
	// Detail says more about a release: its version and chart.
	Detail string `json:"detail,omitempty"`
}

func (c Change) String() string {
	s := c.Object + " " + c.Action
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// Changes follows what Flux applies after a moment (a push): it remembers
// each Kustomization's applied revision and inventory and each
// HelmRelease's latest release at that moment, and Observe then reports
// what changed since, each change once. Created and deleted objects come
// from the inventory (exact); configured ones from kustomize-controller's
// change set events, which the Kubernetes event recorder may drop when one
// Kustomization emits many events in minutes.
type Changes struct {
	since time.Time
	kus   map[Ref]kusSnapshot
	helm  map[Ref]int // latest release version
	seen  map[string]bool
}

type kusSnapshot struct {
	revision  string
	inventory map[string]bool
}

// NewChanges reads the current state to compare with later.
func NewChanges(ctx context.Context, c client.Reader, since time.Time) (*Changes, error) {
	t := &Changes{since: since, kus: map[Ref]kusSnapshot{}, helm: map[Ref]int{}, seen: map[string]bool{}}
	var ks kustomizev1.KustomizationList
	if err := c.List(ctx, &ks); err != nil {
		return nil, fmt.Errorf("listing Kustomizations: %w", err)
	}
	for i := range ks.Items {
		k := &ks.Items[i]
		t.kus[kusRef(k)] = kusSnapshot{revision: k.Status.LastAppliedRevision, inventory: inventoryIDs(k)}
	}
	var hs helmv2.HelmReleaseList
	if err := c.List(ctx, &hs); err != nil {
		return nil, fmt.Errorf("listing HelmReleases: %w", err)
	}
	for i := range hs.Items {
		h := &hs.Items[i]
		if l := h.Status.History.Latest(); l != nil {
			t.helm[helmRef(h)] = l.Version
		}
	}
	return t, nil
}

// Observe returns the changes seen since the last call in the
// Kustomizations and HelmReleases that res, a Result of Wait or Snapshot,
// was read from: the Kustomizations' first, then the HelmReleases', each in
// the API server's order. It reads only events from c.
func (t *Changes) Observe(ctx context.Context, c client.Reader, res *Result) ([]Change, error) {
	var out []Change
	add := func(ch Change) {
		key := ch.By.String() + " " + ch.String()
		if !t.seen[key] {
			t.seen[key] = true
			out = append(out, ch)
		}
	}

	var applied []*kustomizev1.Kustomization
	for i := range res.kustomizations {
		k := &res.kustomizations[i]
		ref := kusRef(k)
		before, existed := t.kus[ref]
		now := inventoryIDs(k)
		if existed && k.Status.LastAppliedRevision == before.revision && maps.Equal(now, before.inventory) {
			continue
		}
		if k.Status.LastAppliedRevision == "" && len(now) == 0 {
			continue // not applied yet
		}
		for _, ch := range InventoryChanges(ref, before.inventory, now) {
			add(ch)
		}
		applied = append(applied, k)
	}
	events := map[string][]corev1.Event{} // by namespace
	for _, k := range applied {
		if _, ok := events[k.Namespace]; !ok {
			var evs corev1.EventList
			if err := c.List(ctx, &evs, client.InNamespace(k.Namespace)); err != nil {
				return out, fmt.Errorf("listing events in %s: %w", k.Namespace, err)
			}
			events[k.Namespace] = evs.Items
		}
		ref := kusRef(k)
		for _, e := range events[k.Namespace] {
			if e.InvolvedObject.Kind != kustomizev1.KustomizationKind || e.InvolvedObject.Name != k.Name ||
				!t.current(e, k.Status.LastAppliedRevision) {
				continue
			}
			for _, ch := range EventChanges(ref, e.Message) {
				add(ch)
			}
		}
	}

	for i := range res.helmReleases {
		h := &res.helmReleases[i]
		if ch, ok := ReleaseChange(helmRef(h), t.helm[helmRef(h)], h.Status.History.Latest()); ok {
			add(ch)
		}
	}
	return out, nil
}

// revisionAnnotation is where kustomize-controller's events carry the
// revision they are about.
const revisionAnnotation = "kustomize.toolkit.fluxcd.io/revision"

// current reports whether an event is about this sync: recorded since it
// began (event times have second precision) and, when the recorder kept its
// first annotations (count 1), about the revision applied.
func (t *Changes) current(e corev1.Event, revision string) bool {
	if eventTime(e).Before(t.since.Truncate(time.Second)) {
		return false
	}
	if rev, ok := e.Annotations[revisionAnnotation]; ok && e.Count <= 1 && revision != "" && rev != revision {
		return false
	}
	return true
}

// changeLine is one line of kustomize-controller's change set event: the
// subject as fluxcd/pkg/ssa formats it ("Kind/namespace/name" or
// "Kind/name") and the action.
var changeLine = regexp.MustCompile(`^([A-Za-z0-9]+/(?:[a-z0-9.-]+/)?[A-Za-z0-9.:_-]+) (created|configured|deleted)$`)

// aggregated is the prefix the Kubernetes event recorder gives events it
// folds together.
const aggregated = "(combined from similar events): "

// EventChanges reads the objects created, configured and deleted from the
// message of a kustomize-controller event; other messages give nothing.
func EventChanges(by Ref, message string) []Change {
	message = strings.TrimPrefix(message, aggregated)
	var out []Change
	for _, line := range strings.Split(message, "\n") {
		if m := changeLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			out = append(out, Change{By: by, Object: m[1], Action: m[2]})
		}
	}
	return out
}

// InventoryChanges compares two inventories (sets of kustomize-controller
// inventory IDs) and returns the objects created and deleted.
func InventoryChanges(by Ref, before, after map[string]bool) []Change {
	var out []Change
	for id := range after {
		if !before[id] {
			out = append(out, Change{By: by, Object: objectOf(id), Action: Created})
		}
	}
	for id := range before {
		if !after[id] {
			out = append(out, Change{By: by, Object: objectOf(id), Action: Deleted})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Action != out[j].Action {
			return out[i].Action < out[j].Action
		}
		return out[i].Object < out[j].Object
	})
	return out
}

// ReleaseChange reports a HelmRelease's latest release when its version is
// newer than before (0: none) and Helm has finished with it.
func ReleaseChange(by Ref, before int, latest *helmv2.Snapshot) (Change, bool) {
	if latest == nil || latest.Version <= before || strings.HasPrefix(latest.Status, "pending") {
		return Change{}, false
	}
	action := Upgraded
	switch {
	case before == 0 && latest.Version == 1:
		action = Installed
	case latest.Action == helmv2.ReleaseActionRollback:
		action = RolledBack
	}
	detail := fmt.Sprintf("release v%d, chart %s %s", latest.Version, latest.ChartName, latest.ChartVersion)
	if latest.Status != "" && latest.Status != "deployed" {
		detail += ", " + latest.Status
	}
	return Change{By: by, Object: by.String(), Action: action, Detail: detail}, true
}

// objectOf turns an inventory ID ("namespace_name_group_Kind", the format
// of cli-utils' ObjMetadata) into "Kind/namespace/name" ("Kind/name" when
// cluster-scoped), as kustomize-controller writes its change set events. An
// ID that does not parse is returned as it is.
func objectOf(id string) string {
	obj, err := object.ParseObjMetadata(id)
	if err != nil {
		return id
	}
	return ssautils.FmtObjMetadata(obj)
}

func inventoryIDs(k *kustomizev1.Kustomization) map[string]bool {
	ids := map[string]bool{}
	if k.Status.Inventory != nil {
		for _, e := range k.Status.Inventory.Entries {
			ids[e.ID] = true
		}
	}
	return ids
}

func kusRef(k *kustomizev1.Kustomization) Ref {
	return Ref{Kind: kustomizev1.KustomizationKind, Namespace: k.Namespace, Name: k.Name}
}

func helmRef(h *helmv2.HelmRelease) Ref {
	return Ref{Kind: helmv2.HelmReleaseKind, Namespace: h.Namespace, Name: h.Name}
}
