package cluster

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
)

// Existing is a cluster the user brings: a kubeconfig and the registry the
// cluster pulls from. gitops-local neither creates nor deletes it.
type Existing struct {
	// Kubeconfig is the cluster's kubeconfig file.
	Kubeconfig string
	// Registry is the registry's host:port from this machine;
	// RegistryInCluster from the cluster ("" for the same address).
	Registry, RegistryInCluster string
	// URL is the preview's address through the cluster's ingress, if known.
	URL string
}

var _ Provider = (*Existing)(nil)

// Preflight checks that the kubeconfig can be read and a registry is given.
func (e *Existing) Preflight(ctx context.Context) error {
	_, err := e.Get(ctx)
	return err
}

// Ensure returns the cluster; it never creates one.
func (e *Existing) Ensure(ctx context.Context) (*Cluster, error) { return e.Get(ctx) }

// Get reads the kubeconfig and returns the cluster it names.
func (e *Existing) Get(_ context.Context) (*Cluster, error) {
	if e.Kubeconfig == "" {
		return nil, errors.New("no kubeconfig given for the existing cluster: pass --kubeconfig")
	}
	if e.Registry == "" {
		return nil, errors.New("no registry given for the existing cluster: pass --registry host:port, the registry the cluster pulls from")
	}
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", e.Kubeconfig, err)
	}
	if cfg.CurrentContext == "" {
		return nil, fmt.Errorf("kubeconfig %s has no current-context", e.Kubeconfig)
	}
	pull := e.RegistryInCluster
	if pull == "" {
		pull = e.Registry
	}
	return &Cluster{
		Name:         cfg.CurrentContext,
		Provider:     "existing",
		Kubeconfig:   e.Kubeconfig,
		RegistryPush: e.Registry,
		RegistryPull: pull,
		URL:          e.URL,
	}, nil
}

// Delete refuses: gitops-local does not delete a cluster it did not create.
func (e *Existing) Delete(context.Context) (Removed, error) {
	return Removed{}, fmt.Errorf("the cluster of %s was not created by gitops-local, so it does not delete it: %w", e.Kubeconfig, ErrUnsupported)
}
