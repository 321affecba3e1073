package cluster

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// MergeKubeconfig adds every cluster, user and context of the kubeconfig
// at src to the kubeconfig at dst (created, mode 0600, when missing),
// replacing entries of the same names and leaving every other entry and
// the current context alone. It returns the contexts it merged.
func MergeKubeconfig(dst, src string) ([]string, error) {
	from, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", src, err)
	}
	to, err := loadOrEmpty(dst)
	if err != nil {
		return nil, err
	}
	var merged []string
	for name, c := range from.Clusters {
		to.Clusters[name] = c
	}
	for name, u := range from.AuthInfos {
		to.AuthInfos[name] = u
	}
	for name, c := range from.Contexts {
		to.Contexts[name] = c
		merged = append(merged, name)
	}
	return merged, write(dst, to)
}

// RemoveContext removes the context name from the kubeconfig at path, with
// its cluster and user when no other context uses them. It reports whether
// the context was there; a missing file is not an error.
func RemoveContext(path, name string) (bool, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	ctx, ok := cfg.Contexts[name]
	if !ok {
		return false, nil
	}
	delete(cfg.Contexts, name)
	used := func(cluster, user string) bool {
		for _, c := range cfg.Contexts {
			if (cluster != "" && c.Cluster == cluster) || (user != "" && c.AuthInfo == user) {
				return true
			}
		}
		return false
	}
	if !used(ctx.Cluster, "") {
		delete(cfg.Clusters, ctx.Cluster)
	}
	if !used("", ctx.AuthInfo) {
		delete(cfg.AuthInfos, ctx.AuthInfo)
	}
	if cfg.CurrentContext == name {
		cfg.CurrentContext = ""
	}
	return true, write(path, cfg)
}

func loadOrEmpty(path string) (*clientcmdapi.Config, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return clientcmdapi.NewConfig(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// write writes cfg to path privately (0600), atomically.
func write(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig %s: %w", path, err)
	}
	return writePrivate(path, data)
}
