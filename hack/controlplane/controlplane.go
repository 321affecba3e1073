// Package controlplane runs a real Kubernetes control plane and the real Flux
// controllers as processes on loopback, for integration tests and for
// `go run ./hack/testcluster`: etcd, kube-apiserver (client-certificate
// authentication, RBAC), kube-controller-manager, kube-scheduler, kwok as the
// kubelet of one fake Node (its kubelet server serves pod logs from the files
// kwok's Logs and ClusterLogs objects name), the Flux CRDs, source-,
// kustomize- and helm-controller, and an OCI registry in process.
//
// Every address it uses is in 127.0.0.0/8, Service ClusterIPs and pod IPs
// included, so nothing the control plane dials leaves the machine.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// ServiceCIDR is the Service ClusterIP range: loopback, so that the API
	// server's dials to Services (webhooks, aggregated APIs) stay on the host.
	ServiceCIDR = "127.96.0.0/16"
	// PodCIDR is the range kwok takes pod IPs from.
	PodCIDR = "127.200.0.1/24"
	// NodeIP is the fake Node's address.
	NodeIP = "127.0.0.1"
	// NodeName is the name of the fake Node kwok manages.
	NodeName = "kwok-node-0"
	// FluxNamespace is the namespace the Flux controllers run for.
	FluxNamespace = "flux-system"

	dirPrefix = "gitops-local-testenv-"
	ownerFile = "owner.pid"
)

// Options configure Start.
type Options struct {
	// ToolsDir holds the built binaries; "" means ToolsDir().
	ToolsDir string
	// Dir receives state and logs; "" means a new temporary directory.
	Dir string
	// KeepDir keeps Dir after Stop.
	KeepDir bool
	// WithoutFlux skips the Flux CRDs and controllers.
	WithoutFlux bool
	// RequeueDependency is how long kustomize- and helm-controller wait
	// before looking again at an object whose dependsOn is not ready; 0
	// keeps the controllers' default (30 s), which a user's cluster has.
	RequeueDependency time.Duration
	// StartTimeout bounds the whole start-up; 0 means 3 minutes.
	StartTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Env is a running control plane.
type Env struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same credentials.
	Kubeconfig string
	// RegistryPush is the registry's host:port as the tool pushes to it.
	RegistryPush string
	// RegistryPull is the registry's host:port as the cluster pulls from it.
	RegistryPull string
	// Dir holds the state and the components' logs (logs/NAME.log).
	Dir string

	opts  Options
	tools Tools
	pki   *pki
	ports map[string]int
	mu    sync.Mutex
	procs []*Process
	// registry serves regHandler on regAddr; the handler, and so what
	// was pushed, outlives a StopRegistry as a registry's disk would.
	registry   *http.Server
	regHandler http.Handler
	regAddr    string
	regLog     *log.Logger
	regLogFile *os.File
	regHook    func(*http.Request)
	stopOnce   sync.Once
	stopErr    error
}

// Start starts the control plane, or stops what it started and returns an
// error naming the component that failed, with its last log lines.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	var required []string
	if opts.WithoutFlux {
		required = []string{"etcd", "kubernetes", "kwok"}
	}
	tools, err := FindTools(opts.ToolsDir, required...)
	if err != nil {
		return nil, err
	}
	e := &Env{opts: opts, tools: tools}
	if e.Dir = opts.Dir; e.Dir == "" {
		removeStaleDirs(os.TempDir())
		if e.Dir, err = os.MkdirTemp("", dirPrefix); err != nil {
			return nil, fmt.Errorf("creating the control plane's directory: %w", err)
		}
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	for _, d := range []string{"logs", "pki", "home", "tmp", "etcd", "source-storage"} {
		if err := os.MkdirAll(filepath.Join(e.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the control plane's directory: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.Dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("creating the control plane's directory: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.StartTimeout,
		fmt.Errorf("control plane not started within %s", opts.StartTimeout))
	defer cancel()
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.opts.Log, format+"\n", args...)
}

func (e *Env) path(elem ...string) string {
	return filepath.Join(append([]string{e.Dir}, elem...)...)
}

func (e *Env) start(ctx context.Context) error {
	begin := time.Now()
	var err error
	names := []string{"etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
		"kwok-kubelet",
		"source-metrics", "source-health", "source-storage", "kustomize-metrics", "kustomize-health", "helm-metrics", "helm-health"}
	if e.ports, err = freePorts(names); err != nil {
		return err
	}
	if e.pki, err = newPKI(e.path("pki"), net.IPv4(127, 96, 0, 1)); err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	if err := e.startRegistry(); err != nil {
		return err
	}

	etcd, err := e.startEtcd()
	if err != nil {
		return err
	}
	if err := etcd.waitReady(ctx, "healthy", func(ctx context.Context) error {
		return httpGetOK(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/health", e.ports["etcd-client"]))
	}); err != nil {
		return err
	}
	e.logf("etcd ready (%s)", time.Since(begin).Round(time.Millisecond))

	apiserver, err := e.startAPIServer()
	if err != nil {
		return err
	}
	if err := e.writeKubeconfig(); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("kube-apiserver: client: %w", err)
	}
	if err := apiserver.waitReady(ctx, "ready", func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	e.logf("kube-apiserver ready (%s)", time.Since(begin).Round(time.Millisecond))

	kcm, err := e.startControllerManager()
	if err != nil {
		return err
	}
	scheduler, err := e.startScheduler()
	if err != nil {
		return err
	}
	if err := e.installKwokCRDs(ctx); err != nil {
		return err
	}
	kwok, err := e.startKwok()
	if err != nil {
		return err
	}
	if err := e.createNode(ctx, cs); err != nil {
		return err
	}
	var flux []*Process
	if !e.opts.WithoutFlux {
		if err := e.installFluxCRDs(ctx); err != nil {
			return err
		}
		if flux, err = e.startFlux(ctx, cs); err != nil {
			return err
		}
		e.logf("Flux CRDs established (%s)", time.Since(begin).Round(time.Millisecond))
	}

	insecure := insecureHTTPClient()
	for _, w := range []struct {
		p    *Process
		port string
	}{{kcm, "kube-controller-manager"}, {scheduler, "kube-scheduler"}} {
		url := fmt.Sprintf("https://127.0.0.1:%d/healthz", e.ports[w.port])
		if err := w.p.waitReady(ctx, "healthy", func(ctx context.Context) error { return httpGetOK(ctx, insecure, url) }); err != nil {
			return err
		}
	}
	if err := kwok.waitReady(ctx, "managing a Ready node", func(ctx context.Context) error {
		n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready", NodeName)
	}); err != nil {
		return err
	}
	if err := kcm.waitReady(ctx, "creating the default ServiceAccount", func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	e.logf("control plane ready (%s)", time.Since(begin).Round(time.Millisecond))
	for _, p := range flux {
		short := strings.TrimSuffix(p.Name, "-controller")
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", e.ports[short+"-health"])
		if err := p.waitReady(ctx, "ready", func(ctx context.Context) error { return httpGetOK(ctx, http.DefaultClient, url) }); err != nil {
			return err
		}
	}
	if len(flux) > 0 {
		e.logf("Flux controllers ready (%s)", time.Since(begin).Round(time.Millisecond))
	}
	return nil
}

// run starts a component and records it for Stop.
func (e *Env) run(name, bin string, args []string, env ...string) (*Process, error) {
	base := []string{
		"HOME=" + e.path("home"),
		"TMPDIR=" + e.path("tmp"),
		"KUBECONFIG=" + e.Kubeconfig,
		"NO_PROXY=127.0.0.1,localhost",
		"no_proxy=127.0.0.1,localhost",
	}
	p, err := StartProcess(name, e.tools.Bin(bin), args, append(base, env...), e.path("logs", name+".log"))
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	e.logf("%s started (pid %d)", name, p.PID())
	return p, nil
}

func (e *Env) startEtcd() (*Process, error) {
	client := fmt.Sprintf("http://127.0.0.1:%d", e.ports["etcd-client"])
	peer := fmt.Sprintf("http://127.0.0.1:%d", e.ports["etcd-peer"])
	return e.run("etcd", "etcd", []string{
		"--name=testenv",
		"--data-dir=" + e.path("etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=testenv=" + peer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	})
}

func (e *Env) startAPIServer() (*Process, error) {
	p := e.pki
	return e.run("kube-apiserver", "kube-apiserver", []string{
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", e.ports["etcd-client"]),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(e.ports["kube-apiserver"]),
		"--tls-cert-file=" + p.ServingCert,
		"--tls-private-key-file=" + p.ServingKey,
		"--client-ca-file=" + p.CACert,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.SAPub,
		"--service-account-signing-key-file=" + p.SAKey,
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + e.path("pki", "apiserver"),
		// Reach the node's kubelet (kwok's server: pod logs) at its
		// loopback InternalIP, never by resolving its Hostname.
		"--kubelet-preferred-address-types=InternalIP",
	})
}

func (e *Env) startControllerManager() (*Process, error) {
	p := e.pki
	return e.run("kube-controller-manager", "kube-controller-manager", []string{
		"--kubeconfig=" + e.Kubeconfig,
		"--authentication-kubeconfig=" + e.Kubeconfig,
		"--authorization-kubeconfig=" + e.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(e.ports["kube-controller-manager"]),
		"--cert-dir=" + e.path("pki", "kube-controller-manager"),
		"--controllers=*",
		"--leader-elect=false",
		"--service-account-private-key-file=" + p.SAKey,
		"--root-ca-file=" + p.CACert,
		"--cluster-signing-cert-file=" + p.CACert,
		"--cluster-signing-key-file=" + p.CAKey,
		"--profiling=false",
	})
}

func (e *Env) startScheduler() (*Process, error) {
	return e.run("kube-scheduler", "kube-scheduler", []string{
		"--kubeconfig=" + e.Kubeconfig,
		"--authentication-kubeconfig=" + e.Kubeconfig,
		"--authorization-kubeconfig=" + e.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(e.ports["kube-scheduler"]),
		"--cert-dir=" + e.path("pki", "kube-scheduler"),
		"--leader-elect=false",
		"--profiling=false",
	})
}

const kwokNodeAnnotation = "kwok.x-k8s.io/node"

func (e *Env) startKwok() (*Process, error) {
	stages, err := filepath.Glob(e.tools.Path("kwok", "stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return nil, fmt.Errorf("kwok: no stage files in %s: run `go run ./hack/testcluster build`", e.tools.Path("kwok", "stages"))
	}
	// Only stages: a KwokConfiguration document would replace kwok's defaults
	// (the play-stage parallelism among them) rather than add to them.
	var cfg strings.Builder
	for _, s := range stages {
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, fmt.Errorf("kwok: %w", err)
		}
		cfg.WriteString("---\n")
		cfg.Write(b)
		cfg.WriteString("\n")
	}
	cfgPath := e.path("kwok.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		return nil, fmt.Errorf("kwok: %w", err)
	}
	return e.run("kwok", "kwok", []string{
		"--config=" + cfgPath,
		"--kubeconfig=" + e.Kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--node-ip=" + NodeIP,
		"--cidr=" + PodCIDR,
		// kwok's kubelet server, on loopback: the Node advertises the port
		// (status.daemonEndpoints) and the API server proxies pods/log to
		// it; kwok serves each container's log from the file a Logs or
		// ClusterLogs object names.
		fmt.Sprintf("--server-address=%s:%d", NodeIP, e.ports["kwok-kubelet"]),
		"--node-port=" + strconv.Itoa(e.ports["kwok-kubelet"]),
		"--enable-crds=Logs,ClusterLogs",
	})
}

func (e *Env) createNode(ctx context.Context, cs kubernetes.Interface) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Allocatable: res, Capacity: res},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kwok: creating node %s: %w", NodeName, err)
	}
	return nil
}

func (e *Env) startFlux(ctx context.Context, cs kubernetes.Interface) ([]*Process, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: FluxNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", FluxNamespace, err)
	}
	var procs []*Process
	for _, name := range []string{"source-controller", "kustomize-controller", "helm-controller"} {
		short := strings.TrimSuffix(name, "-controller")
		args := []string{
			"--watch-all-namespaces=true",
			"--enable-leader-election=false",
			"--events-addr=",
			fmt.Sprintf("--metrics-addr=127.0.0.1:%d", e.ports[short+"-metrics"]),
			fmt.Sprintf("--health-addr=127.0.0.1:%d", e.ports[short+"-health"]),
			"--log-level=info",
		}
		if d := e.opts.RequeueDependency; d > 0 && name != "source-controller" {
			args = append(args, "--requeue-dependency="+d.String())
		}
		if name == "source-controller" {
			args = append(args,
				"--storage-path="+e.path("source-storage"),
				fmt.Sprintf("--storage-addr=127.0.0.1:%d", e.ports["source-storage"]),
				fmt.Sprintf("--storage-adv-addr=localhost:%d", e.ports["source-storage"]),
			)
		}
		p, err := e.run(name, name, args, "RUNTIME_NAMESPACE="+FluxNamespace)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func (e *Env) writeKubeconfig() error {
	server := fmt.Sprintf("https://127.0.0.1:%d", e.ports["kube-apiserver"])
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testenv"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: e.pki.caPEM}
	cfg.AuthInfos["testenv-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: e.pki.adminCertPEM, ClientKeyData: e.pki.adminKeyPEM}
	cfg.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: "testenv-admin"}
	cfg.CurrentContext = "testenv"
	e.Kubeconfig = e.path("kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, e.Kubeconfig); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 100, 200
	e.Config = rc
	return nil
}

func (e *Env) startRegistry() error {
	logf, err := os.Create(e.path("logs", "registry.log"))
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	e.regLogFile, e.regLog = logf, log.New(logf, "", log.LstdFlags)
	e.regHandler = registry.New(registry.Logger(e.regLog))
	if err := e.serveRegistry("127.0.0.1:0"); err != nil {
		_ = logf.Close()
		return err
	}
	e.RegistryPush = e.regAddr
	// The Flux controllers run on the host, so the cluster reaches the
	// registry at the same loopback address.
	e.RegistryPull = e.RegistryPush
	e.logf("registry listening on %s", e.RegistryPush)
	return nil
}

// serveRegistry serves the registry's handler on addr.
func (e *Env) serveRegistry(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(e.serveRegistryRequest),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          e.regLog,
	}
	e.mu.Lock()
	e.registry, e.regAddr = srv, l.Addr().String()
	e.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
	return nil
}

// serveRegistryRequest calls the hook set by OnRegistryRequest, then
// serves r unless the hook stopped the registry: a stopped registry
// answers nothing, its connection is dropped.
func (e *Env) serveRegistryRequest(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	hook := e.regHook
	e.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	e.mu.Lock()
	stopped := e.registry == nil
	e.mu.Unlock()
	if stopped {
		panic(http.ErrAbortHandler)
	}
	e.regHandler.ServeHTTP(w, r)
}

// OnRegistryRequest calls hook with each request the registry receives,
// before serving it; nil removes the hook. A hook that calls StopRegistry
// stops the registry in the middle of that request, as a crash would.
func (e *Env) OnRegistryRequest(hook func(*http.Request)) {
	e.mu.Lock()
	e.regHook = hook
	e.mu.Unlock()
}

// StopRegistry stops the registry at once, dropping the connections in
// progress, as a crash would; what it had stored stays, for StartRegistry.
func (e *Env) StopRegistry() error {
	e.mu.Lock()
	srv := e.registry
	e.registry = nil
	e.mu.Unlock()
	if srv == nil {
		return errors.New("registry: not running")
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("registry: stopping: %w", err)
	}
	e.logf("registry stopped")
	return nil
}

// StartRegistry starts a stopped registry again on the same address, with
// what it had stored.
func (e *Env) StartRegistry() error {
	e.mu.Lock()
	running := e.registry != nil
	e.mu.Unlock()
	if running {
		return errors.New("registry: already running")
	}
	if err := e.serveRegistry(e.RegistryPush); err != nil {
		return err
	}
	e.logf("registry listening again on %s", e.RegistryPush)
	return nil
}

// Processes returns the running components, in start order.
func (e *Env) Processes() []*Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Process(nil), e.procs...)
}

// Stop stops every component (their whole process groups), the registry, and
// removes Dir unless KeepDir was set. It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		// Clients first, so that the API server has no watches to drain,
		// then the API server, then etcd; each phase in parallel.
		var clients, apiserver, etcd []*Process
		for _, p := range e.Processes() {
			switch p.Name {
			case "etcd":
				etcd = append(etcd, p)
			case "kube-apiserver":
				apiserver = append(apiserver, p)
			default:
				clients = append(clients, p)
			}
		}
		for _, phase := range [][]*Process{clients, apiserver, etcd} {
			errs = append(errs, stopAll(phase)...)
		}
		e.mu.Lock()
		srv := e.registry
		e.registry = nil
		e.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
			cancel()
		}
		if e.regLogFile != nil {
			_ = e.regLogFile.Close()
		}
		if !e.opts.KeepDir && e.Dir != "" {
			if err := os.RemoveAll(e.Dir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", e.Dir, err))
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

func stopAll(procs []*Process) []error {
	var wg sync.WaitGroup
	errc := make(chan error, len(procs))
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Stop(2 * time.Second); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errs
}

// removeStaleDirs removes directories left in tmp by control planes whose
// owner died without stopping them (a test binary killed on timeout): their
// processes died with it, only files remain.
func removeStaleDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
