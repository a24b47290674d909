# halfpipe build, test and tooling. Everything the project needs is
# installed by these targets into .tools/ (Go tools at pinned versions).

SHELL        := /bin/bash
GO           ?= go
BIN          := $(CURDIR)/bin
TOOLS        := $(CURDIR)/.tools/bin
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PLUGINS      := $(notdir $(patsubst %/main.go,%,$(wildcard plugins/*/main.go)))
# Plugins with a CGO file wrap a C driver; their packages are vetted and
# tested with cgo, everything else without.
CGO_PLUGINS  := $(notdir $(patsubst %/CGO,%,$(wildcard plugins/*/CGO)))
# The end-to-end package comes first: it is the longest, so it starts first.
MODULES      := ./testkit/e2e ./core/... ./sdk/... ./testkit/... $(addsuffix /...,$(addprefix ./plugins/,$(filter-out $(CGO_PLUGINS),$(PLUGINS))))
CGO_MODULES  := $(addsuffix /...,$(addprefix ./plugins/,$(CGO_PLUGINS)))
LDFLAGS      := -s -w -X main.version=$(VERSION)

# One build configuration for make build, vet, the tests and the test
# kit's builds, so each package is compiled once into the build cache:
# no cgo (hp never uses it) and no -trimpath (it changes every package's
# build ID; the release builds in layer/build.sh use it).
export CGO_ENABLED := 0
# With the netgo and osusergo tags, a package that does not use cgo itself
# compiles alike with and without cgo (only net's netgo constant and
# os/user differ otherwise, and everything above them: gRPC, the AWS SDK,
# Parquet, SQLite's translated C), so the cgo plugins and their tests
# share the build cache with hp instead of compiling ~120 packages again.
# hp has no cgo anyway; the cgo plugins resolve names in Go, not libc.
# arrow_json_stdlib: arrow-go's JSON (schema metadata, never our data
# path) uses encoding/json instead of goccy/go-json, whose ~30 CPU-s of
# compiling every fresh build then skips.
# No DWARF anywhere: every binary is linked without it (-ldflags=-w for
# test binaries and the test kit's builds, -s -w in LDFLAGS; stack traces
# keep file and line), so the compiler does not write it either
# (-dwarf=false: a sixth less compiling).
export GOFLAGS := $(strip $(GOFLAGS) -tags=netgo,osusergo,arrow_json_stdlib -ldflags=-w -gcflags=all=-dwarf=false)

BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

export PATH := $(TOOLS):$(PATH)

.PHONY: all build hp plugins debs lambda demo test test-tools test-tools-fetch fmt-check vet sdk-standalone sdk-tidy sdk-vet sdk-tidy-start debs-start proto proto-check proto-regen-check docs docs-check bench tools clean

all: build

build: hp plugins

hp:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/hp ./core/cmd/hp

# Debian packages the cgo plugins build with and against and the tests
# drive (gcc, the ODBC driver manager and drivers, ...; scripts/debs.sh):
# one dpkg-query when all are present.
debs:
	@./scripts/debs.sh

# Plugins go to bin/plugins, which hp searches beside its own binary, with
# their SHA256SUMS and PLUGININFO (hp plugins index: what each serves, so
# that hp starts only the ones a job needs, from the first run on). Modes
# are set whatever the umask: hp refuses plugins that group or others can
# write (a umask of 002 is common). A
# plugin whose directory holds a file named CGO wraps a C driver and is
# built with cgo; hp and every other plugin are built with CGO_ENABLED=0.
# One go build per cgo setting builds its plugins together (it loads the
# packages once and keeps both cores busy, linking several at once); go
# build names each executable after its directory, renamed here.
#
# The plugins without cgo need no Debian package: they build first, and
# scripts/debs.sh runs before the cgo ones (make test starts it in the
# background from the start, debs-start; this run then waits for that one
# on debs.sh's lock and finds everything installed).
plugins: hp
	@mkdir -p $(BIN)/plugins && chmod 0755 $(BIN)/plugins
	@echo "build $(addprefix hp-plugin-,$(PLUGINS))"
	@tmp=$$(mktemp -d $(BIN)/.plugins.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
		CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $$tmp/ $(addprefix ./plugins/,$(filter-out $(CGO_PLUGINS),$(PLUGINS))) && \
		$(if $(CGO_PLUGINS),./scripts/debs.sh && CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $$tmp/ $(addprefix ./plugins/,$(CGO_PLUGINS)) &&) \
		for p in $(PLUGINS); do mv "$$tmp/$$p" $(BIN)/plugins/hp-plugin-$$p && chmod 0755 $(BIN)/plugins/hp-plugin-$$p || exit 1; done
	@cd $(BIN)/plugins && sha256sum hp-plugin-* > SHA256SUMS && chmod 0644 SHA256SUMS
	@$(BIN)/hp plugins index $(BIN)/plugins

# AWS Lambda packages in dist/lambda: the function zip (bootstrap) and one
# layer zip per plugin, for x86_64 and arm64. See docs/lambda.md.
# hp and the plugins built for this machine write the layers' plugin info
# files (layer/build.sh: HP, LAYER_INFO_FROM).
lambda: build
	GO=$(GO) VERSION=$(VERSION) HP=$(BIN)/hp LAYER_INFO_FROM=$(BIN)/plugins layer/build.sh amd64 dist/lambda
	GO=$(GO) VERSION=$(VERSION) HP=$(BIN)/hp LAYER_INFO_FROM=$(BIN)/plugins layer/build.sh arm64 dist/lambda

demo: build
	@./scripts/demo.sh

# testsum prints go test's package lines, failures, the skipped tests
# grouped by reason (gated suites whose HP_TEST_* variable is unset) and a
# closing count.
#
# The tools the tests run (S3 server, Lambda emulator) are fetched in the
# background from the start, while hp's modules download and it builds,
# and built in the background once hp is built: the standard library is
# compiled by then (started together, both builds compiled it).
# go test -vet=all runs every check of `make vet` on every package, tested
# or not, so the analysis is done once, by the test run.
#
# The SDK's standalone checks (sdk-standalone) run in the background too,
# their output printed and their failure failing `make test` at the end:
# sdk-tidy from the start (on a fresh machine its module downloads, which
# the workspace does not need, take a minute or more), sdk-vet once `make
# build` has compiled the packages it shares with the workspace (started
# earlier, it would compile them a second time alongside the build). Its
# analysis of the dependencies is not go test -vet=all's, but the
# out-of-tree connector's test (go vet without the workspace) reuses it.
#
# The tests run the executables `make build` made (docs-check needs them
# too) rather than linking their own (testkit.Build, HP_TEST_BIN_DIR).
# They run with umask 022: the plugin directories they make must not be
# writable by group, or hp refuses them.
test: export HP_TEST_BIN_DIR := $(BIN)
test: test-tools-fetch debs-start fmt-check sdk-tidy-start proto-check test-tools docs-check
	@$(call bg_start,sdk-vet)
	umask 022; set -o pipefail; { $(GO) test -json -vet=all -count=1 -timeout 30m $(MODULES) || s=1; \
		$(if $(CGO_MODULES),CGO_ENABLED=1 $(GO) test -json -vet=all -count=1 -timeout 30m $(CGO_MODULES) || s=1;) \
		$(call bg_wait,debs) $(call bg_wait,sdk-tidy) $(call bg_wait,sdk-vet) \
		exit $${s:-0}; } 2>&1 | $(GO) run ./testkit/cmd/testsum

# $(call bg_start,T) runs `make T` in the background, its output into
# out/T.log and its exit status into out/T.rc; $(call bg_wait,T), in a
# recipe's shell, waits for it, prints its output and sets s=1 when it
# failed.
bg_start = mkdir -p out && rm -f out/$(1).rc && ( ( $(MAKE) --no-print-directory $(1) > out/$(1).log 2>&1; echo $$? > out/$(1).rc ) & )
bg_wait = while [ ! -e out/$(1).rc ]; do sleep 1; done; cat out/$(1).log; \
	if [ "$$(cat out/$(1).rc)" != 0 ]; then echo "make $(1) FAILED (exit $$(cat out/$(1).rc); out/$(1).log)"; s=1; fi;

sdk-tidy-start:
	@$(call bg_start,sdk-tidy)

# On a fresh machine the Debian packages take minutes to install (apt
# downloads; 126 s wall here), which need not hold up hp's build and
# the module downloads: make test installs them in the background.
debs-start:
	@$(call bg_start,debs)

test-tools: build
	@mkdir -p out && ($(GO) run ./testkit/cmd/testtools > out/test-tools.log 2>&1 &)

test-tools-fetch:
	@mkdir -p out && ($(GO) run ./testkit/cmd/testtools -fetch > out/test-tools-fetch.log 2>&1 &)

fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

vet: debs fmt-check
	$(GO) vet $(MODULES)
	$(if $(CGO_MODULES),CGO_ENABLED=1 $(GO) vet $(CGO_MODULES))

# The SDK is a module connector authors require on its own, without this
# repository's go.work: its go.mod must be tidy and it must build and vet
# standalone (vet type-checks the tests too, so their imports must resolve;
# the tests themselves run in 'test').
sdk-standalone: sdk-tidy sdk-vet

sdk-tidy:
	cd sdk && GOWORK=off $(GO) mod tidy -diff

sdk-vet:
	cd sdk && GOWORK=off $(GO) build ./... && GOWORK=off $(GO) vet ./...
	@echo "sdk: builds and vets, tests included, without go.work"
	@cd sdk && f='{{with .Module}}{{.Path}} {{.Version}}{{end}}' && \
		drift=$$(diff <(GOWORK=off $(GO) list -deps -test -f "$$f" ./... | sort -u) <($(GO) list -deps -test -f "$$f" ./... | sort -u) | grep '^[<>]'); \
		if [ -n "$$drift" ]; then echo "sdk: warning: sdk/go.mod selects other versions than the workspace (< sdk alone, > workspace), so the standalone build compiles them twice; align sdk/go.mod:"; echo "$$drift"; fi

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

export BUF_VERSION PROTOC_GEN_GO_VERSION PROTOC_GEN_GO_GRPC_VERSION
PROTO_STAMP := proto/SOURCES.sha256

proto: tools
	buf lint
	buf generate
	@./scripts/proto-stamp.sh > $(PROTO_STAMP)

# When the stamp matches (same generators, sources and generated files as
# the last `make proto`), the generated code is what they produce; only
# otherwise are the generators built to regenerate and compare.
proto-check:
	@if [ "$$(./scripts/proto-stamp.sh)" = "$$(cat $(PROTO_STAMP) 2>/dev/null)" ]; then \
		echo "proto: generated code is up to date ($(PROTO_STAMP))"; \
	else $(MAKE) --no-print-directory proto-regen-check; fi

# Regenerates into a scratch copy and fails if the committed code differs.
proto-regen-check: tools
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
		cp -r proto buf.yaml buf.gen.yaml $$tmp/ && mkdir -p $$tmp/.tools && ln -s $(TOOLS) $$tmp/.tools/bin && \
		(cd $$tmp && buf lint && buf generate) && \
		if ! diff -r $$tmp/sdk/internal/proto sdk/internal/proto; then \
			echo "generated protocol code is stale: run 'make proto' and commit"; exit 1; fi
	@echo "proto: generated code is up to date (regenerated); 'make proto' refreshes $(PROTO_STAMP)"

# docs/connections.md and plugins/*/README.md come from the plugins' specs.
docs: build
	HP_PLUGIN_DIR=$(BIN)/plugins $(BIN)/hp gendocs --dir .

# (env -u: make test's HP_TEST_BIN_DIR is no setting of hp's, which would
# warn about it.)
docs-check: build
	env -u HP_TEST_BIN_DIR HP_PLUGIN_DIR=$(BIN)/plugins $(BIN)/hp gendocs --dir . --check

bench: build
	@./scripts/bench.sh

clean:
	rm -rf $(BIN) out demo dist
