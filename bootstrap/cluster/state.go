package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// StateDirEnv overrides where gitops-local keeps each cluster's state.
const StateDirEnv = "GITOPS_LOCAL_STATE_DIR"

// StateDir is the folder holding per-cluster state (kubeconfigs):
// $GITOPS_LOCAL_STATE_DIR, else $XDG_STATE_HOME/gitops-local, else
// ~/.local/state/gitops-local.
func StateDir(lookupEnv func(string) (string, bool)) (string, error) {
	if d, ok := lookupEnv(StateDirEnv); ok && d != "" {
		return filepath.Abs(d)
	}
	if d, ok := lookupEnv("XDG_STATE_HOME"); ok && d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "gitops-local"), nil
	}
	home, ok := lookupEnv("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the state folder: set %s: %w", StateDirEnv, err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "gitops-local"), nil
}

// KubeconfigPath is where the kubeconfig of the named cluster is kept.
func KubeconfigPath(stateDir, name string) string {
	return filepath.Join(stateDir, "clusters", name, "kubeconfig")
}

// WriteKubeconfig writes data to path readable by its owner only (0600,
// its folder 0700), replacing the file atomically so a reader never sees
// half of it and an older file with wider permissions is narrowed.
func WriteKubeconfig(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting %s: %w", dir, err)
	}
	return writePrivate(path, data)
}

// writePrivate replaces the file at path with data, readable by its owner
// only (0600), atomically: a reader never sees half of it. A missing
// folder is created 0700; an existing one is left as it is.
func writePrivate(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".kubeconfig-*")
	if err != nil {
		return fmt.Errorf("writing kubeconfig in %s: %w", dir, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// RemoveKubeconfig removes the kubeconfig at path and its folder when
// that is left empty; it returns path when a file was removed, "" when
// there was none.
func RemoveKubeconfig(path string) (string, error) {
	err := os.Remove(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("removing kubeconfig %s: %w", path, err)
	}
	_ = os.Remove(filepath.Dir(path)) // only succeeds when empty
	return path, nil
}

// Loopback is the only address gitops-local maps cluster ports to.
const Loopback = "127.0.0.1"

// FreePort returns a TCP port that is free on 127.0.0.1 now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s: %w", Loopback, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CheckPortFree fails when port cannot be bound on 127.0.0.1.
func CheckPortFree(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("invalid port %d: want 1-65535", port)
	}
	addr := net.JoinHostPort(Loopback, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return portError(port, err)
	}
	return l.Close()
}

// portError says why port could not be bound: on Linux a port below 1024
// needs privileges (EACCES), which is not something else listening there.
func portError(port int, err error) error {
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("port %d on %s is a privileged port this user may not bind (%w): pick --port 1024 or above, or drop --port for a free one", port, Loopback, err)
	}
	return fmt.Errorf("port %d is not free on %s (something else listens there): pick another with --port: %w", port, Loopback, err)
}
