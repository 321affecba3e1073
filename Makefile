# Developer entry points. The README's two commands are `make run` (build and
# run the tool's main job) and `make test` (everything CI runs as tests).

GO          ?= go
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION  := v1.7.12
BIN         := bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/leynos/gitops-local/bootstrap/versions.Tool=$(VERSION)
# Integration tests start a real control plane; give them room.
TEST_TIMEOUT ?= 45m
# The chart cache validate reads offline, and where pinned chart archives are
# taken from when they are not in it yet (the shared upstream test archives
# beside the checkout; a machine with internet access pulls them instead with
# `gitops-local build local`).
CHART_CACHE ?= $(or $(GITOPS_LOCAL_CHART_CACHE),$(HOME)/.cache/gitops-local/charts)
CHARTS_FROM ?= $(or $(GITOPS_LOCAL_TESTDATA_CHARTS),../shared/testdata/charts)

.PHONY: build run charts test test-short fuzz bench-validate bench-pipeline bench-scale bench-flate tools lint fmt vet staticcheck actionlint actionlint-install clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/gitops-local ./cmd/gitops-local

run: build charts
	GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(BIN)/gitops-local validate

# charts puts the pinned platform chart archives into the chart cache, from
# CHARTS_FROM when it exists, else by pulling them once.
charts: build
	@mkdir -p $(CHART_CACHE)
	@if [ -d "$(CHARTS_FROM)" ]; then cp -n $(CHARTS_FROM)/*.tgz $(CHART_CACHE)/ 2>/dev/null || true; \
	else GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(BIN)/gitops-local build local >/dev/null; fi

# tools builds the pinned test control plane (etcd, kube-apiserver, ...,
# kwok, the Flux controllers) into the user cache; it does nothing when they
# are already there.
tools:
	$(GO) run ./hack/testcluster build

# GITOPS_LOCAL_REQUIRE_TESTENV=1: a missing control plane fails the run
# instead of skipping the integration tier; -count=1: every run really runs
# the tests against the control plane, never a cached result.
test: tools
	GITOPS_LOCAL_REQUIRE_TESTENV=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# test-short skips the tiers that need the control plane.
test-short:
	$(GO) test -short ./...

# fuzz runs each fuzz target for FUZZTIME (their seed corpora in
# testdata/fuzz run in every go test). A failing input is written to the
# package's testdata/fuzz/<FuzzName>/: commit it with the fix.
FUZZTIME ?= 60s
# Minimising each new interesting input takes up to 60s by default, time
# taken from fuzzing (a build takes ~0.1s a run): 30 runs each, a failing
# input included.
FUZZMINIMIZETIME ?= 30x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseVars$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./bootstrap/gitops
	$(GO) test -run '^$$' -fuzz '^FuzzBuildOverlay$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./bootstrap/gitops
	$(GO) test -run '^$$' -fuzz '^FuzzHelmValues$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./bootstrap/gitops
	$(GO) test -run '^$$' -fuzz '^FuzzCheckYAMLAliases$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./bootstrap/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzSplitManifests$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./bootstrap/render

# bench-validate times validate as a whole process against kubectl
# kustomize once per environment; it needs kubectl on PATH.
bench-validate: build charts
	GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(GO) run ./hack/benchvalidate -bin $(BIN)/gitops-local

# The benchmarks below install the tools they compare with once, at the
# versions in bootstrap/versions, with go install into the user cache
# (GITOPS_LOCAL_BENCH_TOOLS overrides where). BENCH_ROUNDS is how many
# interleaved rounds they time; medians are printed.
BENCH_ROUNDS ?= 5

# bench-pipeline times validate, cold (--no-cache when the binary has it)
# and warm, against kustomize build + envsubst + helm template +
# kubeconform -strict over the same environments.
bench-pipeline: build charts
	GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(GO) run ./hack/benchpipeline -bin $(BIN)/gitops-local -n $(BENCH_ROUNDS)

# bench-scale times a cold validate of generated repositories of 10 to 500
# HelmReleases: wall time, peak RSS and time per HelmRelease.
BENCH_SIZES ?= 10,50,100,250,500
bench-scale: build charts
	GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(GO) run ./hack/benchscale -bin $(BIN)/gitops-local -sizes $(BENCH_SIZES)

# bench-flate times gitops-local build of every environment against flate
# (Go 1.27, fetched as a toolchain by go install), cold and warm, with the
# chart cache served to flate on loopback.
bench-flate: build charts
	GITOPS_LOCAL_CHART_CACHE=$(CHART_CACHE) $(GO) run ./hack/benchflate -bin $(BIN)/gitops-local -n $(BENCH_ROUNDS)

lint: fmt vet staticcheck actionlint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# actionlint checks the GitHub workflows; .ci/run installs it first with
# `make actionlint-install` (go install, at the pinned version).
ACTIONLINT := $(BIN)/tools/actionlint-$(ACTIONLINT_VERSION)

actionlint-install: $(ACTIONLINT)

$(ACTIONLINT):
	@mkdir -p $(BIN)/tools/.actionlint
	GOBIN=$(abspath $(BIN))/tools/.actionlint $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(BIN)/tools/.actionlint/actionlint $@

actionlint: $(ACTIONLINT)
	$(ACTIONLINT) .github/workflows/*.yaml

clean:
	rm -rf $(BIN)
