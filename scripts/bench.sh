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

# PostgreSQL: a TPC-H-style lineitem table, loaded once, then the server's
# own client as the baseline beside hp.
PG_ROWS=${BENCH_PG_ROWS:-5000000}
PG="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
if psql "$PG" -Atc "select 1" >/dev/null 2>&1; then
	have=$(psql "$PG" -Atc "select count(*) from hp_bench_lineitem" 2>/dev/null || echo 0)
	if [ "$have" != "$PG_ROWS" ]; then
		echo
		echo "== loading $PG_ROWS lineitem rows into PostgreSQL"
		psql "$PG" -q -c "drop table if exists hp_bench_lineitem" -c "
			create table hp_bench_lineitem as
			select g::bigint as l_orderkey, (g % 200000)::int as l_partkey, (g % 10000)::int as l_suppkey, (g % 7)::int as l_linenumber,
			       ((g % 50) + 1)::numeric(15,2) as l_quantity, ((g % 100000) / 100.0 + 900)::numeric(15,2) as l_extendedprice,
			       ((g % 11) / 100.0)::numeric(15,2) as l_discount, ((g % 9) / 100.0)::numeric(15,2) as l_tax,
			       (array['A','N','R'])[g % 3 + 1]::char(1) as l_returnflag, (array['F','O'])[g % 2 + 1]::char(1) as l_linestatus,
			       date '1992-01-01' + (g % 2500) as l_shipdate, date '1992-01-31' + (g % 2500) as l_commitdate,
			       date '1992-01-15' + (g % 2500) as l_receiptdate, 'DELIVER IN PERSON'::char(25) as l_shipinstruct,
			       (array['AIR','MAIL','SHIP','TRUCK'])[g % 4 + 1]::char(10) as l_shipmode,
			       md5(g::text) as l_comment
			from generate_series(1, $PG_ROWS) g"
	fi
	echo
	echo "== PostgreSQL → local files: $PG_ROWS lineitem rows (baselines: the server's own client)"
	tmp=$(mktemp -d)
	t0=$(date +%s.%N); psql "$PG" -qc "\\copy (select * from hp_bench_lineitem) to '$tmp/psql.csv' csv"; t1=$(date +%s.%N)
	awk -v r="$PG_ROWS" -v a="$t0" -v b="$t1" -v s="$(stat -c %s "$tmp/psql.csv")" 'BEGIN { printf "%-44s %11d rows %7.2fs %11d rows/s %8.1f MB/s out\n", "baseline: psql \\copy to CSV", r, b-a, r/(b-a), s/1e6/(b-a) }'
	t0=$(date +%s.%N); psql "$PG" -qc "copy (select * from hp_bench_lineitem) to stdout (format binary)" > /dev/null; t1=$(date +%s.%N)
	awk -v r="$PG_ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-44s %11d rows %7.2fs %11d rows/s\n", "server limit: COPY BINARY to /dev/null", r, b-a, r/(b-a) }'
	rm -rf "$tmp"
	for spec in "csv none" "csv gzip" "parquet zstd"; do
		set -- $spec
		HP_PG_DSN="$PG" go run ./testkit/cmd/snapbench -rows "$PG_ROWS" -label "hp cp snap → $1 ($2)" -- \
			cp snap pg.hp_bench_lineitem out.bench --format "$1" --compression "$2" --log-level warn
	done
else
	echo "PostgreSQL is not reachable at 127.0.0.1:5432: skipping its benchmark"
fi
