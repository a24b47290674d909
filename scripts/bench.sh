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

echo
echo "== snapshot to local files: gen narrow (baseline: the plugin boundary above)"
for n in 1000000 "$ROWS"; do
	for spec in "csv none" "csv gzip" "parquet zstd"; do
		set -- $spec
		HP_GEN_DSN="gen://?rows=$n" go run ./testkit/cmd/snapbench -rows "$n" -label "hp cp snap → $1 ($2), $n rows" -- \
			cp snap gen.narrow out.bench --format "$1" --compression "$2" --log-level warn
	done
done
