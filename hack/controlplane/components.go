package controlplane

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// StopComponent kills the running component name ("source-controller",
// "kube-apiserver", …) and its process group at once, as a crash would.
// What it stored (etcd's data, source-controller's storage) stays, for
// StartComponent.
func (e *Env) StopComponent(name string) error {
	p, err := e.running(name)
	if err != nil {
		return err
	}
	if err := p.Stop(0); err != nil {
		return err
	}
	e.logf("%s stopped", name)
	return nil
}

// StartComponent starts the stopped component name again, with the same
// arguments, ports and state, and waits until it is ready as Start does.
func (e *Env) StartComponent(ctx context.Context, name string) error {
	e.mu.Lock()
	var old *Process
	at := -1
	for i, p := range e.procs {
		if p.Name == name {
			old, at = p, i
		}
	}
	e.mu.Unlock()
	if old == nil {
		return fmt.Errorf("%s: no such component", name)
	}
	if exited, _ := old.Exited(); !exited {
		return fmt.Errorf("%s: still running (pid %d)", name, old.PID())
	}
	p, err := StartProcess(name, old.path, old.args, old.env, old.LogPath)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.procs[at] = p
	e.mu.Unlock()
	e.logf("%s started again (pid %d)", name, p.PID())
	check, err := e.readyCheck(name)
	if err != nil {
		return err
	}
	return p.waitReady(ctx, "ready", check)
}

// running returns the component name if it is running.
func (e *Env) running(name string) (*Process, error) {
	for _, p := range e.Processes() {
		if p.Name != name {
			continue
		}
		if exited, _ := p.Exited(); exited {
			return nil, fmt.Errorf("%s: not running", name)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%s: no such component", name)
}

// readyCheck is how StartComponent knows that name serves again: the
// health endpoint Start waits on.
func (e *Env) readyCheck(name string) (func(context.Context) error, error) {
	get := func(c *http.Client, format string, port string) func(context.Context) error {
		url := fmt.Sprintf(format, e.ports[port])
		return func(ctx context.Context) error { return httpGetOK(ctx, c, url) }
	}
	switch name {
	case "etcd":
		return get(http.DefaultClient, "http://127.0.0.1:%d/health", "etcd-client"), nil
	case "kube-apiserver":
		cs, err := kubernetes.NewForConfig(e.Config)
		if err != nil {
			return nil, fmt.Errorf("kube-apiserver: client: %w", err)
		}
		return func(ctx context.Context) error {
			_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		}, nil
	case "kube-controller-manager", "kube-scheduler":
		return get(insecureHTTPClient(), "https://127.0.0.1:%d/healthz", name), nil
	case "source-controller", "kustomize-controller", "helm-controller":
		return get(http.DefaultClient, "http://127.0.0.1:%d/readyz", strings.TrimSuffix(name, "-controller")+"-health"), nil
	default:
		// kwok has no health endpoint: it is ready once it runs.
		return func(context.Context) error { return nil }, nil
	}
}
