#!/usr/bin/env bash
# Prints the stamp of the protocol sources and generated code: the pinned
# generator versions and the SHA-256 of every input and output file.
# `make proto` stores it in proto/SOURCES.sha256, and
# `make proto-check` compares it before deciding whether it must build the
# generators to regenerate and compare.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# generators: buf $BUF_VERSION, protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION"
{ git ls-files -co --exclude-standard proto sdk/internal/proto | grep -v '/SOURCES.sha256$'; echo buf.yaml; echo buf.gen.yaml; } | LC_ALL=C sort -u | xargs sha256sum
