// Package cluster finds, creates and deletes the cluster a preview runs on.
//
// A Provider is one way of getting a cluster: k3d (package cluster/k3d),
// which creates a k3d cluster with its own registry, or Existing, a cluster
// and registry the user brings (and the tests' control plane). What `up`
// needs from either is a Cluster: where its API server, registry and
// ingress are.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Cluster is a running cluster the preview can be deployed to.
type Cluster struct {
	// Name is the cluster's name (the k3d cluster, or the kubeconfig's
	// context for an existing cluster).
	Name string `json:"name"`
	// Provider is "k3d" or "existing".
	Provider string `json:"provider"`
	// Kubeconfig is the path of a kubeconfig that reaches the cluster.
	Kubeconfig string `json:"kubeconfig"`
	// RegistryPush is the registry's host:port as this machine reaches it
	// (always on 127.0.0.1 for k3d); RegistryPull is the same registry as
	// the cluster reaches it (k3d: by its container name).
	RegistryPush string `json:"registry"`
	RegistryPull string `json:"registryInCluster"`
	// Port is the loopback port the cluster's ingress (port 80) is mapped
	// to; 0 when unknown.
	Port int `json:"port,omitempty"`
	// URL is the preview's address through that port, "" when unknown.
	URL string `json:"url,omitempty"`
	// Created reports whether this run created the cluster.
	Created bool `json:"created"`
	// MergedInto is the user's kubeconfig the cluster's context was added
	// to, when that was asked for.
	MergedInto string `json:"mergedInto,omitempty"`
}

// Removed is what Delete removed.
type Removed struct {
	// Cluster is the removed cluster's name, "" when there was none.
	Cluster string `json:"cluster,omitempty"`
	// Nodes are the removed node containers.
	Nodes []string `json:"nodes,omitempty"`
	// Registry is the removed registry's name, "" when there was none.
	Registry string `json:"registry,omitempty"`
	// Network is a network left from a cluster whose creation failed,
	// "" when there was none.
	Network string `json:"network,omitempty"`
	// Kubeconfig is the removed kubeconfig file, "" when there was none.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the context removed from the user's kubeconfig (where an
	// earlier up merged it), "" when there was none.
	Context string `json:"context,omitempty"`
}

// Empty reports whether nothing was removed.
func (r Removed) Empty() bool {
	return r.Cluster == "" && r.Registry == "" && r.Network == "" && r.Kubeconfig == "" && r.Context == "" && len(r.Nodes) == 0
}

// Provider gets clusters of one kind. What only some providers do is
// found by type assertion on the interfaces its users define (package up:
// Preflighter, ImageImporter), as ctlptl does.
type Provider interface {
	// Ensure returns the cluster, creating it when it does not exist.
	Ensure(ctx context.Context) (*Cluster, error)
	// Get returns the cluster, or an error wrapping ErrNotFound.
	Get(ctx context.Context) (*Cluster, error)
	// Delete removes the cluster, its registry and its kubeconfig; a
	// missing cluster is not an error (Removed is then empty).
	Delete(ctx context.Context) (Removed, error)
}

// ErrNotFound is returned when the cluster does not exist.
var ErrNotFound = errors.New("cluster not found")

// ErrUnsupported is returned by a provider for what it cannot do.
var ErrUnsupported = errors.New("not supported by this cluster provider")

// nameRE is what k3d accepts as a cluster name (a DNS label, since it
// becomes part of container host names), with room for the "k3d-" prefix
// and "-server-0" suffix within 63 characters.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// MaxNameLength is the longest cluster name k3d accepts.
const MaxNameLength = 32

// ValidateName checks a cluster name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("invalid cluster name: it must not be empty")
	case len(name) > MaxNameLength:
		return fmt.Errorf("invalid cluster name %q: longer than %d characters", name, MaxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("invalid cluster name %q: use lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}
