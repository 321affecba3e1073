//go:build pins

// This file is never compiled. It names one package of every library module
// the project pins in go.mod, so that `go mod tidy` keeps the whole set that is
// known to compile together (k3d, Flux, Helm v4, kustomize, client-go) even
// before code imports a module, instead of resolving a newer, incompatible one.
package versions

import (
	_ "github.com/docker/docker/client"
	_ "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "github.com/fluxcd/kustomize-controller/api/v1"
	_ "github.com/fluxcd/pkg/apis/meta"
	_ "github.com/fluxcd/pkg/kustomize"
	_ "github.com/fluxcd/pkg/oci"
	_ "github.com/fluxcd/pkg/runtime/conditions"
	_ "github.com/fluxcd/pkg/ssa"
	_ "github.com/fluxcd/source-controller/api/v1"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/k3d-io/k3d/v5/pkg/client"
	_ "github.com/moby/buildkit/frontend/dockerfile/parser"
	_ "github.com/spf13/cobra"
	_ "helm.sh/helm/v4/pkg/action"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	_ "k8s.io/apimachinery/pkg/runtime"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime/pkg/client"
	_ "sigs.k8s.io/kustomize/api/krusty"
	_ "sigs.k8s.io/kustomize/kyaml/yaml"
)
