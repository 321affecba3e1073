module github.com/leynos/gitops-local

go 1.26.0

// Guards: kustomize must stay at kustomize-controller v1.9.6's pin, and
// k3d's rancher/wharfie requires k8s.io/kubelet@v0.0.0, which go list refuses.
replace (
	k8s.io/kubelet => k8s.io/kubelet v0.36.4
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)

require (
	github.com/docker/docker v28.5.2+incompatible
	github.com/fluxcd/cli-utils v1.2.3
	github.com/fluxcd/helm-controller/api v1.6.4
	github.com/fluxcd/kustomize-controller/api v1.9.6
	github.com/fluxcd/pkg/apis/meta v1.30.2
	github.com/fluxcd/pkg/kustomize v1.35.7
	github.com/fluxcd/pkg/oci v0.58.0
	github.com/fluxcd/pkg/runtime v0.110.3
	github.com/fluxcd/pkg/ssa v0.76.2
	github.com/fluxcd/source-controller/api v1.9.6
	github.com/fsnotify/fsnotify v1.10.1
	github.com/google/go-containerregistry v0.20.6
	github.com/k3d-io/k3d/v5 v5.8.3
	github.com/moby/buildkit v0.26.3
	github.com/spf13/cobra v1.10.2
	helm.sh/helm/v4 v4.2.4
	k8s.io/apiextensions-apiserver v0.36.4
	k8s.io/apimachinery v0.36.4
	k8s.io/client-go v0.36.4
	sigs.k8s.io/controller-runtime v0.24.1
	sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml v0.21.1
)
