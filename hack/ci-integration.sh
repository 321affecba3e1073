#!/usr/bin/env bash
# Builds whatever test control-plane binaries are missing (about 30 minutes on
# two cores when nothing is cached, seconds otherwise), then runs the tests
# with the control plane required: a missing binary fails the run instead of
# skipping the integration tests.
#
#   hack/ci-integration.sh                       # every package
#   hack/ci-integration.sh ./bootstrap/...       # some packages
#
# GITOPS_LOCAL_TOOLS_DIR sets where binaries are cached (default: the user
# cache directory); cache that folder between CI runs to skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/testcluster build
GITOPS_LOCAL_REQUIRE_TESTENV=1 go test "${@:-./...}"
