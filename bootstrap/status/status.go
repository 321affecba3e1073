// Package status reports what a preview cluster is running: its nodes, the
// Flux controllers, every Flux object with its state and revision, and the
// app's pods.
package status

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

// Report is the state of a preview.
type Report struct {
	Server      string                   `json:"server"`
	Nodes       []Node                   `json:"nodes"`
	Controllers []Controller             `json:"fluxControllers"`
	Objects     []reconcile.ObjectResult `json:"objects"`
	Pods        []Pod                    `json:"pods"`
	URL         string                   `json:"url,omitempty"`
}

// Node is one cluster node.
type Node struct {
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Version string `json:"version"`
}

// Controller is one Flux controller Deployment.
type Controller struct {
	Name      string `json:"name"`
	Image     string `json:"image"`
	Available bool   `json:"available"`
}

// Pod is one of the app's pods.
type Pod struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
}

// Options say where the app runs and where it is served.
type Options struct {
	Server       string
	AppNamespace string
	// AppSelector selects the app's pods.
	AppSelector map[string]string
	URL         string
}

// Ready reports whether every Flux object is Ready and every controller
// available: the preview is up.
func (r *Report) Ready() bool {
	for _, c := range r.Controllers {
		if !c.Available {
			return false
		}
	}
	for _, o := range r.Objects {
		if o.State != reconcile.Ready {
			return false
		}
	}
	return len(r.Controllers) > 0 && len(r.Objects) > 0
}

// Collect reads the cluster once.
func Collect(ctx context.Context, c client.Reader, opts Options) (*Report, error) {
	r := &Report{Server: opts.Server, URL: opts.URL, Nodes: []Node{}, Controllers: []Controller{}, Pods: []Pod{}}

	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("listing nodes on %s: %w (is the cluster running?)", opts.Server, err)
	}
	for _, n := range nodes.Items {
		node := Node{Name: n.Name, Version: n.Status.NodeInfo.KubeletVersion}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				node.Ready = cond.Status == corev1.ConditionTrue
			}
		}
		r.Nodes = append(r.Nodes, node)
	}

	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(flux.Namespace)); err != nil {
		return nil, fmt.Errorf("listing Flux controllers: %w", err)
	}
	for _, d := range deps.Items {
		ctl := Controller{Name: d.Name, Available: d.Status.AvailableReplicas > 0 && d.Status.AvailableReplicas >= ptr.Deref(d.Spec.Replicas, 1)}
		if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
			ctl.Image = cs[0].Image
		}
		r.Controllers = append(r.Controllers, ctl)
	}
	sort.Slice(r.Controllers, func(i, j int) bool { return r.Controllers[i].Name < r.Controllers[j].Name })

	snap, err := reconcile.Snapshot(ctx, c, reconcile.Options{})
	if err != nil {
		return nil, err
	}
	r.Objects = snap.Objects

	if opts.AppNamespace != "" {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(opts.AppNamespace), client.MatchingLabels(opts.AppSelector)); err != nil {
			return nil, fmt.Errorf("listing pods in %s: %w", opts.AppNamespace, err)
		}
		for _, p := range pods.Items {
			pod := Pod{Name: p.Name, Phase: string(p.Status.Phase)}
			for _, cs := range p.Status.ContainerStatuses {
				pod.Restarts += cs.RestartCount
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady {
					pod.Ready = cond.Status == corev1.ConditionTrue
				}
			}
			r.Pods = append(r.Pods, pod)
		}
		sort.Slice(r.Pods, func(i, j int) bool { return r.Pods[i].Name < r.Pods[j].Name })
	}
	return r, nil
}
