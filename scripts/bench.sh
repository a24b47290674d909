#!/usr/bin/env bash
# make bench: measured speed and memory, each beside a baseline from the
# same run. Sizes can be changed with BENCH_ROWS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${BENCH_ROWS:-10000000}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
echo
echo "== plugin boundary: $ROWS gen rows (narrow: int64, float64, string, timestamp)"
go run ./testkit/cmd/protobench -plugins bin/plugins -rows "$ROWS"
