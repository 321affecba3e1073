// Package fluxcrds embeds the CustomResourceDefinitions of the Flux
// controllers that gitops-local pins, copied unchanged from the controllers'
// modules (config/crd/bases) by generate.sh. SOURCES lists where each file
// came from.
package fluxcrds

import "embed"

//go:generate ./generate.sh

// FS holds the CRD files (*.yaml) and SOURCES.
//
//go:embed *.yaml SOURCES
var FS embed.FS
