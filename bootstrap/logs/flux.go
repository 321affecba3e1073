package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

// FluxControllers are the controllers whose logs Flux streams: the pods in
// gitops.FluxNamespace labelled app=NAME.
var FluxControllers = []string{"source-controller", "kustomize-controller", "helm-controller"}

// Labels the Flux controllers set on what they apply: kustomize-controller on
// a Kustomization's objects, helm-controller on a HelmRelease's HelmChart.
const (
	kustomizeNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	kustomizeNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"
	helmNameLabel           = "helm.toolkit.fluxcd.io/name"
	helmNamespaceLabel      = "helm.toolkit.fluxcd.io/namespace"
)

// fluxKinds are the Flux kinds whose objects can be the environment's.
var fluxKinds = []schema.GroupVersionKind{
	{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
	{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "Bucket"},
}

// fluxObject is what the ownership walk needs of one object.
type fluxObject struct {
	Ref    reconcile.Ref
	Labels map[string]string
}

// ownedObjects returns the environment's Flux objects among objs: the root
// Kustomization and its source, every object a Kustomization of the
// environment applied (kustomize-controller's name/namespace labels), and
// every HelmChart a HelmRelease of the environment made (helm-controller's).
func ownedObjects(root, rootSource reconcile.Ref, objs []fluxObject) map[reconcile.Ref]bool {
	owned := map[reconcile.Ref]bool{root: true}
	if rootSource.Name != "" {
		owned[rootSource] = true
	}
	for changed := true; changed; {
		changed = false
		for _, o := range objs {
			if owned[o.Ref] {
				continue
			}
			byKustomization := reconcile.Ref{Kind: "Kustomization", Name: o.Labels[kustomizeNameLabel], Namespace: o.Labels[kustomizeNamespaceLabel]}
			byRelease := reconcile.Ref{Kind: "HelmRelease", Name: o.Labels[helmNameLabel], Namespace: o.Labels[helmNamespaceLabel]}
			if owned[byKustomization] || owned[byRelease] {
				owned[o.Ref] = true
				changed = true
			}
		}
	}
	return owned
}

// FluxObjects reads the environment's Flux objects from the cluster: the root
// Kustomization gitops.FluxNamespace/gitops.RootName, its source, and what
// they manage, directly or through other Kustomizations and HelmReleases.
// Kinds whose CRDs are not installed are skipped.
func FluxObjects(ctx context.Context, c client.Reader) ([]reconcile.Ref, error) {
	owned, err := readOwned(ctx, c)
	if err != nil {
		return nil, err
	}
	refs := make([]reconcile.Ref, 0, len(owned))
	for r := range owned {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs, nil
}

func readOwned(ctx context.Context, c client.Reader) (map[reconcile.Ref]bool, error) {
	root := reconcile.Ref{Kind: "Kustomization", Namespace: gitops.FluxNamespace, Name: gitops.RootName}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(fluxKinds[0])
	if err := c.Get(ctx, client.ObjectKey{Namespace: root.Namespace, Name: root.Name}, u); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("no root Kustomization %s/%s: is this a gitops-local cluster? run gitops-local up", root.Namespace, root.Name)
		}
		return nil, fmt.Errorf("reading the root Kustomization %s/%s: %w", root.Namespace, root.Name, err)
	}
	var rootSource reconcile.Ref
	if kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind"); kind != "" {
		name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
		ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = root.Namespace
		}
		rootSource = reconcile.Ref{Kind: kind, Namespace: ns, Name: name}
	}
	var objs []fluxObject
	for _, gvk := range fluxKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			objs = append(objs, fluxObject{
				Ref:    reconcile.Ref{Kind: gvk.Kind, Namespace: item.Namespace, Name: item.Name},
				Labels: item.Labels,
			})
		}
	}
	return ownedObjects(root, rootSource, objs), nil
}

// entry is one Flux controller log line: a JSON object whose object fields
// are those of controller-runtime's reconciler logs (controllerKind, name,
// namespace) or of Flux's event recorder ("reconciler kind").
type entry struct {
	TS             any    `json:"ts"`
	Level          string `json:"level"`
	Msg            string `json:"msg"`
	Error          string `json:"error"`
	ControllerKind string `json:"controllerKind"`
	ReconcilerKind string `json:"reconciler kind"`
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
}

// parseEntry decodes a JSON log line; ok is false for any other line.
func parseEntry(line string) (e entry, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(line), "{") {
		return entry{}, false
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return entry{}, false
	}
	return e, true
}

// ref is the object the line is about, or ok false when it names none.
func (e entry) ref() (reconcile.Ref, bool) {
	kind := e.ControllerKind
	if kind == "" {
		kind = e.ReconcilerKind
	}
	if kind == "" || e.Name == "" {
		return reconcile.Ref{}, false
	}
	return reconcile.Ref{Kind: kind, Namespace: e.Namespace, Name: e.Name}, true
}

// time renders ts: Flux writes ISO 8601 strings; zap's default is epoch
// seconds.
func (e entry) time() string {
	switch ts := e.TS.(type) {
	case string:
		return ts
	case float64:
		sec := int64(ts)
		return time.Unix(sec, int64((ts-float64(sec))*1e9)).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return "-"
}

// render is the text form of a line: time, level, controller, object,
// message and error.
func (e entry) render(controller string, ref reconcile.Ref) string {
	level := e.Level
	if level == "" {
		level = "-"
	}
	s := fmt.Sprintf("%s %-5s %s %s: %s", e.time(), level, controller, ref, e.Msg)
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}

// fluxFilter keeps the lines about the environment's objects. When a line
// names an object it does not know and the last read is older than every,
// it reads the objects again: following, a new Kustomization or HelmRelease
// shows up in the logs before anything else.
type fluxFilter struct {
	read  func(context.Context) (map[reconcile.Ref]bool, error)
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	owned map[reconcile.Ref]bool
	last  time.Time
}

func (f *fluxFilter) keep(ctx context.Context, ref reconcile.Ref) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owned[ref] {
		return true
	}
	if f.read == nil || f.now().Sub(f.last) < f.every {
		return false
	}
	f.last = f.now()
	if owned, err := f.read(ctx); err == nil {
		f.owned = owned
	}
	return f.owned[ref]
}

// fluxLine turns a controller's raw line into what to print: "" drops it.
// JSON lines about the environment's objects are rendered (or passed as they
// are with asJSON); other lines pass, prefixed with the controller, only
// with verbose.
func fluxLine(ctx context.Context, f *fluxFilter, controller, line string, asJSON, verbose bool) string {
	e, ok := parseEntry(line)
	if !ok {
		if verbose && !asJSON && strings.TrimSpace(line) != "" {
			return controller + ": " + line
		}
		return ""
	}
	ref, ok := e.ref()
	if !ok || !f.keep(ctx, ref) {
		return ""
	}
	if asJSON {
		return line
	}
	return e.render(controller, ref)
}

// FluxOptions choose which Flux controller lines to show.
type FluxOptions struct {
	// Since, Tail, Follow, JSON, Out and Log are as for App, except that
	// Tail counts the controllers' lines before filtering and its zero
	// value means every line.
	Options
	// Verbose also shows the lines that are not JSON.
	Verbose bool
}

// Flux writes the Flux controllers' log lines about the environment's
// objects (see FluxObjects) to opts.Out: rendered as "TIME LEVEL CONTROLLER
// KIND/NAMESPACE/NAME: MESSAGE[: ERROR]", or, with JSON, the controllers'
// JSON lines as they are. Namespace, Selector and Container must be empty.
func Flux(ctx context.Context, cs kubernetes.Interface, c client.Reader, opts FluxOptions) error {
	if opts.Container != "" {
		return fmt.Errorf("--container chooses among the app's containers: it does not combine with --flux")
	}
	if opts.Namespace != "" || len(opts.Selector) != 0 {
		return fmt.Errorf("logs: the Flux controllers' pods are chosen by Flux, not by Namespace or Selector")
	}
	opts.Namespace = gitops.FluxNamespace
	if opts.Tail == 0 {
		opts.Tail = -1 // as flux logs: a default of 10 lines would mostly be filtered out
	}
	if err := opts.check(); err != nil {
		return err
	}
	owned, err := readOwned(ctx, c)
	if err != nil {
		return err
	}
	filter := &fluxFilter{read: func(ctx context.Context) (map[reconcile.Ref]bool, error) { return readOwned(ctx, c) },
		every: 10 * time.Second, now: time.Now, owned: owned, last: time.Now()}
	if !opts.Follow {
		filter.read = nil
	}
	out := &lineWriter{w: opts.Out}
	sel := "app in (" + strings.Join(FluxControllers, ",") + ")"
	return streamSelected(ctx, cs, opts.Options, sel, func(bool) lineFunc {
		return func(t target, line string) error {
			if s := fluxLine(ctx, filter, t.Labels["app"], line, opts.JSON, opts.Verbose); s != "" {
				return out.write(s)
			}
			return nil
		}
	})
}
