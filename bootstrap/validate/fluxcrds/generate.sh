#!/bin/sh
# Copies the CustomResourceDefinitions of the pinned Flux controllers into this
# folder, where the validate package embeds them. The controllers' modules
# (not their /api modules, which carry only Go types) ship the CRDs under
# config/crd/bases. Run from this folder after changing a controller pin in
# bootstrap/versions, then `go test ./bootstrap/validate/...`: a test checks
# that SOURCES names the pinned versions.
set -eu
modules="github.com/fluxcd/source-controller@v1.9.6
github.com/fluxcd/kustomize-controller@v1.9.6
github.com/fluxcd/helm-controller@v1.6.4"
rm -f ./*.yaml
: > SOURCES
for m in $modules; do
	dir=$(go mod download -json "$m" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$dir" ]; then
		echo "generate.sh: cannot download $m" >&2
		exit 1
	fi
	for f in "$dir"/config/crd/bases/*.yaml; do
		cp "$f" .
		chmod 0644 "$(basename "$f")"
		echo "$m config/crd/bases/$(basename "$f")" >> SOURCES
	done
done
