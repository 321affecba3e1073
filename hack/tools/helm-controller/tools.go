//go:build tools

// Package tools pins Flux's helm-controller, run on the host against the test
// control plane.
package tools

import (
	_ "github.com/fluxcd/helm-controller"
)
