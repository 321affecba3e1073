// Package provider picks the cluster provider: the one place that knows
// every provider, so that adding one (kind, say) touches its own package
// and this factory only.
package provider

import (
	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/cluster/k3d"
)

// Config says which cluster to use.
type Config struct {
	// Existing is a cluster the user brings; it is used when its
	// Kubeconfig is set.
	Existing cluster.Existing
	// K3d configures the k3d cluster gitops-local creates otherwise.
	K3d k3d.Options
}

// New returns the provider cfg selects: the existing cluster when a
// kubeconfig is given, else k3d.
func New(cfg Config) (cluster.Provider, error) {
	if cfg.Existing.Kubeconfig != "" {
		e := cfg.Existing
		return &e, nil
	}
	return k3d.New(cfg.K3d)
}
