// Package versions is the one place every pinned version lives: the Flux
// controllers the tool installs (and whose API modules it imports), the k3s
// and k3d helper images, the platform charts, and the control-plane binaries
// the integration tests build. Nothing here may be "latest".
//
// To update a pin, change it here and run `go test ./...`: tests compare these
// values with go.mod, the hack/ wrapper modules and the GitOps tree, and fail
// on any drift.
package versions

// Tool is the version of gitops-local itself, set at link time with
// -ldflags "-X github.com/leynos/gitops-local/bootstrap/versions.Tool=v0.1.0".
var Tool = "dev"

// Flux controllers. The API modules in go.mod carry the same versions.
const (
	SourceController    = "v1.9.6"
	KustomizeController = "v1.9.6"
	HelmController      = "v1.6.4"
)

// Flux controllers whose CRDs only are installed and validated against
// (bootstrap/flux/manifests/flux.yaml). They are the newest versions the Go
// module proxy serves of the Flux 2.9 line the controllers above belong
// to: Flux v2.9.4 shipped notification-controller v1.9.3,
// image-reflector-controller and image-automation-controller v1.2.4 and
// source-watcher v2.2.3 (fluxcd/flux2 manifests/bases at v2.9.4); the
// later 2.9 patch releases' versions (notification-controller v1.9.4,
// image-* v1.2.5, source-watcher v2.2.4 in fluxcd/flux2#6049) are refused
// by the proxy. Flux patch releases do not change these APIs.
const (
	NotificationController    = "v1.9.3"
	ImageReflectorController  = "v1.2.4"
	ImageAutomationController = "v1.2.4"
	SourceWatcher             = "v2.2.3"
)

// Cluster images.
const (
	// K3sImage is the k3s node image k3d starts (Kubernetes v1.36.1).
	K3sImage = "docker.io/rancher/k3s:v1.36.1-k3s1"
	// K3d is the k3d library version; its helper images (proxy, tools) are
	// tagged with it so that k3d never falls back to "latest".
	K3d = "v5.8.3"
	// K3dProxyImage and K3dToolsImage are k3d's helper images (its load
	// balancer, and the container that imports images), tagged with K3d;
	// package cluster/k3d makes k3d use exactly these.
	K3dProxyImage = "ghcr.io/k3d-io/k3d-proxy:5.8.3"
	K3dToolsImage = "ghcr.io/k3d-io/k3d-tools:5.8.3"
	// RegistryImage is the image of the k3d-managed OCI registry.
	RegistryImage = "docker.io/library/registry:2.8.3"
)

// Test control plane (built from the Go module proxy, see hack/).
const (
	Etcd       = "v3.6.16"
	Kubernetes = "v1.37.2"
	Kwok       = "v0.8.0"
)

// Benchmark tools: the programs the benchmarks under hack/ compare
// gitops-local with, installed with `go install module/cmd@version` from the
// Go module proxy into the user cache (hack/benchtools). Never shipped.
const (
	// BenchKustomize is sigs.k8s.io/kustomize/kustomize/v5; v5.8.1 builds
	// with kustomize/api v0.21.1, the version go.mod and
	// kustomize-controller pin.
	BenchKustomize = "v5.8.1"
	// BenchHelm is helm.sh/helm/v4's helm command, at go.mod's Helm library
	// version.
	BenchHelm = "v4.2.4"
	// BenchKubeconform is github.com/yannh/kubeconform.
	BenchKubeconform = "v0.8.0"
	// BenchFlate is github.com/home-operations/flate; it needs Go 1.27,
	// installed as BenchFlateGo through GOTOOLCHAIN.
	BenchFlate   = "v0.6.5"
	BenchFlateGo = "go1.27.3"
)

// Chart is a pinned platform chart.
type Chart struct {
	// Name is the chart's name in its repository.
	Name string `json:"name"`
	// Repository is the chart repository: an https:// index or an oci:// base.
	Repository string `json:"repository"`
	// Version is the exact chart version.
	Version string `json:"version"`
	// Namespace is where the release is installed.
	Namespace string `json:"namespace"`
	// Local reports whether the local preview installs it.
	Local bool `json:"local"`
}

// Charts are the platform charts, in install order.
var Charts = []Chart{
	{Name: "cloudnative-pg", Repository: "https://cloudnative-pg.github.io/charts", Version: "0.26.1", Namespace: "cnpg-system", Local: true},
	{Name: "valkey-operator", Repository: "oci://ghcr.io/hyperspike", Version: "v0.0.61-chart", Namespace: "valkey-operator-system", Local: true},
	{Name: "traefik", Repository: "https://traefik.github.io/charts", Version: "37.4.0", Namespace: "traefik"},
	{Name: "cert-manager", Repository: "oci://quay.io/jetstack/charts", Version: "v1.19.2", Namespace: "cert-manager"},
	{Name: "external-dns", Repository: "https://kubernetes-sigs.github.io/external-dns/", Version: "1.19.0", Namespace: "external-dns"},
	{Name: "external-secrets", Repository: "oci://ghcr.io/external-secrets/charts", Version: "1.1.1", Namespace: "external-secrets"},
}

// Component is one pinned component, for listing.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Components lists every pin in a stable order, for `gitops-local version`.
func Components() []Component {
	c := []Component{
		{"source-controller", SourceController},
		{"kustomize-controller", KustomizeController},
		{"helm-controller", HelmController},
		{"notification-controller (CRDs)", NotificationController},
		{"image-reflector-controller (CRDs)", ImageReflectorController},
		{"image-automation-controller (CRDs)", ImageAutomationController},
		{"source-watcher (CRDs)", SourceWatcher},
		{"k3s", K3sImage},
		{"k3d", K3d},
		{"k3d-proxy", K3dProxyImage},
		{"k3d-tools", K3dToolsImage},
		{"registry", RegistryImage},
	}
	for _, ch := range Charts {
		c = append(c, Component{"chart/" + ch.Name, ch.Version})
	}
	return c
}

// ChartByName returns the pinned chart with the given name.
func ChartByName(name string) (Chart, bool) {
	for _, c := range Charts {
		if c.Name == name {
			return c, true
		}
	}
	return Chart{}, false
}
