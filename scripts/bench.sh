#!/usr/bin/env bash
# make bench: measured speed and memory, each beside a baseline from the
# same run. Sizes can be changed with BENCH_ROWS. BENCH_ONLY selects
# sections (space-separated: boundary cold local s3 memory pg parallel
# mysql odbc shapes diff), e.g.
# BENCH_ONLY=pg ./scripts/bench.sh; BENCH_PG_REPEAT=3 repeats the
# PostgreSQL rounds, each with its baseline just before it. BENCH_BIN is
# the directory of hp and plugins/ (default bin, as make bench builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${BENCH_ROWS:-10000000}
BIN=${BENCH_BIN:-bin}
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
if want boundary; then
	echo
	echo "== plugin boundary: $ROWS gen rows (narrow: int64, float64, string, timestamp)"
	go run ./testkit/cmd/protobench -plugins "$BIN/plugins" -rows "$ROWS"
fi

if want cold; then
	echo
	echo "== cold start: hp cp snap of one row, process start to published manifest (plugin launch, handshake, read, write), median of 9"
	tmp=$(mktemp -d)
	for i in 1 2 3 4 5 6 7 8 9; do
		t0=$(date +%s%N)
		HP_GEN_DSN="gen://?rows=1" HP_OUT_DSN="$tmp" HP_PLUGIN_DIR="$BIN/plugins" "$BIN/hp" cp snap gen.narrow out.cold --log-level warn 2>/dev/null
		echo $(( ($(date +%s%N) - t0) / 1000000 ))
	done | sort -n | awk '{ a[NR] = $1 } END { printf "%-44s %8d ms (min %d ms, max %d ms)\n", "cold start, local target", a[5], a[1], a[9] }'
	rm -rf "$tmp"
fi

if want local; then
	echo
	echo "== snapshot to local files: gen narrow (baseline: the plugin boundary above)"
	for n in 1000000 "$ROWS"; do
		for spec in "csv none" "csv gzip" "parquet zstd"; do
			set -- $spec
			HP_GEN_DSN="gen://?rows=$n" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$n" -label "hp cp snap → $1 ($2), $n rows" -- \
				cp snap gen.narrow out.bench --format "$1" --compression "$2" --log-level warn
		done
	done
fi

if want s3; then
	echo
	echo "== snapshot to S3: gen narrow into a real S3 server (versitygw on loopback), multipart uploads of 8 MiB parts"
	for n in 1000000 5000000; do
		for spec in "csv none" "csv gzip" "parquet zstd"; do
			set -- $spec
			HP_GEN_DSN="gen://?rows=$n" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -s3 -rows "$n" -label "hp cp snap → S3 $1 ($2), $n rows" -- \
				cp snap gen.narrow out.bench --format "$1" --compression "$2" --log-level warn
		done
	done
fi

if want memory; then
	echo
	echo "== memory plateau: Parquet (zstd) at twice the rows above"
	n=$((ROWS * 2))
	HP_GEN_DSN="gen://?rows=$n" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$n" -label "hp cp snap → parquet (zstd), $n rows" -- \
		cp snap gen.narrow out.bench --format parquet --compression zstd --log-level warn
fi

# PostgreSQL: a TPC-H-style lineitem table, loaded once, then the server's
# own client as the baseline beside hp.
PG_ROWS=${BENCH_PG_ROWS:-5000000}
PG="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
pg_lineitem() {
	local have
	have=$(psql "$PG" -Atc "select count(*) from hp_bench_lineitem" 2>/dev/null || echo 0)
	if [ "$have" != "$PG_ROWS" ]; then
		echo
		echo "== loading $PG_ROWS lineitem rows into PostgreSQL"
		go run ./testkit/cmd/lineitem -db postgres -rows "$PG_ROWS" | psql "$PG" -q -v ON_ERROR_STOP=1
	fi
}
# pg_copy_baseline: psql's \copy of the whole table to CSV, timed.
pg_copy_baseline() {
	local tmp t0 t1
	tmp=$(mktemp -d)
	t0=$(date +%s.%N); psql "$PG" -qc "\\copy (select * from hp_bench_lineitem) to '$tmp/psql.csv' csv"; t1=$(date +%s.%N)
	awk -v r="$PG_ROWS" -v a="$t0" -v b="$t1" -v s="$(stat -c %s "$tmp/psql.csv")" 'BEGIN { printf "%-44s %11d rows %7.2fs %11d rows/s %8.1f MB/s out\n", "baseline: psql \\copy to CSV", r, b-a, r/(b-a), s/1e6/(b-a) }'
	rm -rf "$tmp"
}
if ! want pg; then
	:
elif psql "$PG" -Atc "select 1" >/dev/null 2>&1; then
	pg_lineitem
	for round in $(seq "${BENCH_PG_REPEAT:-1}"); do
		echo
		echo "== PostgreSQL → local files: $PG_ROWS lineitem rows (baselines: the server's own client), round $round"
		pg_copy_baseline
		t0=$(date +%s.%N); psql "$PG" -qc "copy (select * from hp_bench_lineitem) to stdout (format binary)" > /dev/null; t1=$(date +%s.%N)
		awk -v r="$PG_ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-44s %11d rows %7.2fs %11d rows/s\n", "server limit: COPY BINARY to /dev/null", r, b-a, r/(b-a) }'
		for spec in "csv none" "csv gzip" "parquet zstd" "csv gzip -s3" "parquet zstd -s3"; do
			set -- $spec
			HP_PG_DSN="$PG" go run ./testkit/cmd/snapbench -hp "$BIN/hp" ${3:-} -rows "$PG_ROWS" -label "hp cp snap → ${3:+S3 }$1 ($2)" -- \
				cp snap pg.hp_bench_lineitem out.bench --format "$1" --compression "$2" --log-level warn
		done
	done
else
	echo "PostgreSQL is not reachable at 127.0.0.1:5432: skipping its benchmark"
fi

# Parallel reads: the same lineitem in 1, 2 and 4 slices (CTID ranges in
# one exported snapshot), time and peak RSS beside psql's \copy.
if ! want parallel; then
	:
elif psql "$PG" -Atc "select 1" >/dev/null 2>&1; then
	pg_lineitem
	echo
	echo "== PostgreSQL → local files with --parallel: $PG_ROWS lineitem rows (baseline: psql \\copy, one connection)"
	pg_copy_baseline
	for spec in "csv none" "parquet zstd"; do
		set -- $spec
		for n in 1 2 4; do
			HP_PG_DSN="$PG" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$PG_ROWS" -label "hp cp snap --parallel $n → $1 ($2)" -- \
				cp snap pg.hp_bench_lineitem out.bench --format "$1" --compression "$2" --parallel "$n" --log-level warn
		done
	done
else
	echo "PostgreSQL is not reachable at 127.0.0.1:5432: skipping the parallel benchmark"
fi

# MariaDB/MySQL: the same lineitem shape, the server's own client as baseline.
MY_ROWS=${BENCH_MYSQL_ROWS:-5000000}
if ! want mysql; then
	:
elif mariadb -h127.0.0.1 -uroot test -e "select 1" >/dev/null 2>&1; then
	have=$(mariadb -h127.0.0.1 -uroot test -N -e "select count(*) from hp_bench_lineitem" 2>/dev/null || echo 0)
	if [ "$have" != "$MY_ROWS" ]; then
		echo
		echo "== loading $MY_ROWS lineitem rows into MariaDB"
		go run ./testkit/cmd/lineitem -db mysql -rows "$MY_ROWS" | mariadb -h127.0.0.1 -uroot test
	fi
	echo
	echo "== MariaDB → local files: $MY_ROWS lineitem rows (baseline: the server's own client)"
	tmp=$(mktemp -d)
	t0=$(date +%s.%N); mariadb -h127.0.0.1 -uroot test --batch --quick -e "select * from hp_bench_lineitem" > "$tmp/my.tsv"; t1=$(date +%s.%N)
	awk -v r="$MY_ROWS" -v a="$t0" -v b="$t1" -v s="$(stat -c %s "$tmp/my.tsv")" 'BEGIN { printf "%-44s %11d rows %7.2fs %11d rows/s %8.1f MB/s out\n", "baseline: mariadb --batch --quick > tsv", r, b-a, r/(b-a), s/1e6/(b-a) }'
	rm -rf "$tmp"
	for spec in "csv none" "csv gzip" "parquet zstd"; do
		set -- $spec
		HP_MY_DSN="mysql://root@127.0.0.1:3306/test" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$MY_ROWS" -label "hp cp snap → $1 ($2)" -- \
			cp snap my.hp_bench_lineitem out.bench --format "$1" --compression "$2" --log-level warn
	done
	# --parallel: key ranges of l_orderkey, consistent snapshots started
	# under one LOCK TABLES ... READ (the csv (none) line above is 1 slice).
	for n in 2 4; do
		HP_MY_DSN="mysql://root@127.0.0.1:3306/test" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$MY_ROWS" -label "hp cp snap --parallel $n → csv (none)" -- \
			cp snap my.hp_bench_lineitem out.bench --format csv --compression none --parallel "$n" --log-level warn
	done
else
	echo "MariaDB is not reachable at 127.0.0.1:3306: skipping its benchmark"
fi

# ODBC: the lineitem shape read through hp-plugin-odbc (odbc-postgresql,
# odbc-mariadb), each run just after the native plugin on the same table.
OD_ROWS=${BENCH_ODBC_ROWS:-5000000}
# BENCH_ODBC_FORMATS (default "csv parquet") picks the outputs.
OD_FORMATS=${BENCH_ODBC_FORMATS:-csv parquet}
# odbc_pair NATIVE_DSN ODBC_DSN [once]: the native plugin's run, then the
# ODBC one; with "once" also an ODBC run reading the table in one query
# (chunk_rows=0: MariaDB's driver holds the whole result) for memory.
odbc_pair() {
	local native=$1 odbc=$2 once=${3:-} format compression via chunks=()
	for format in $OD_FORMATS; do
		compression=none
		[ "$format" = parquet ] && compression=zstd
		for via in native odbc ${once:+odbc-once}; do
			chunks=()
			[ "$via" = odbc-once ] && chunks=(HP_ODBC_CHUNK_ROWS=0)
			env "${chunks[@]}" HP_NATIVE_DSN="$native" HP_ODBC_DSN="$odbc" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$OD_ROWS" -label "$via: hp cp snap → $format ($compression)" -- \
				cp snap "${via%-once}.odbc_bench.lineitem" out.bench --format "$format" --compression "$compression" --log-level warn
		done
	done
}
if want odbc; then
	if psql "$PG" -Atc "select 1" >/dev/null 2>&1; then
		have=$(psql "$PG" -Atc "select count(*) from odbc_bench.lineitem" 2>/dev/null || echo 0)
		if [ "$have" != "$OD_ROWS" ]; then
			echo
			echo "== loading $OD_ROWS lineitem rows into PostgreSQL (odbc_bench.lineitem)"
			{ echo "create schema if not exists odbc_bench;"; go run ./testkit/cmd/lineitem -db postgres -table odbc_bench.lineitem -rows "$OD_ROWS"; } | psql "$PG" -q -v ON_ERROR_STOP=1
		fi
		echo
		echo "== PostgreSQL → local files: $OD_ROWS lineitem rows, native plugin and ODBC (odbc-postgresql)"
		odbc_pair "$PG" "odbc+postgres://postgres@127.0.0.1:5432/test"
	fi
	if mariadb -h127.0.0.1 -uroot test -e "select 1" >/dev/null 2>&1; then
		have=$(mariadb -h127.0.0.1 -uroot -N -e "select count(*) from odbc_bench.lineitem" 2>/dev/null || echo 0)
		if [ "$have" != "$OD_ROWS" ]; then
			echo
			echo "== loading $OD_ROWS lineitem rows into MariaDB (odbc_bench.lineitem)"
			mariadb -h127.0.0.1 -uroot -e "create database if not exists odbc_bench"
			go run ./testkit/cmd/lineitem -db mysql -table odbc_bench.lineitem -rows "$OD_ROWS" | mariadb -h127.0.0.1 -uroot test
		fi
		echo
		echo "== MariaDB → local files: $OD_ROWS lineitem rows, native plugin and ODBC (odbc-mariadb)"
		odbc_pair "mysql://root@127.0.0.1:3306/test" "odbc+mariadb://root@127.0.0.1:3306/test" once
	fi
fi

# Every table shape (testkit.Shapes) in both servers: the client's CSV,
# hp → CSV and hp → Parquet in alternating rounds, then a table of the
# medians against the goals. BENCH_SHAPES_ROUNDS (default 3),
# BENCH_SHAPES_SCALE (default 1, multiplies each shape's rows) and
# BENCH_SHAPES_PREFIX (default hp_bench_, the tables' name prefix).
if want shapes; then
	echo
	echo "== table shapes: PostgreSQL and MariaDB, each beside its own client"
	go run ./testkit/cmd/shapebench -hp "$BIN/hp" -rounds "${BENCH_SHAPES_ROUNDS:-3}" -scale "${BENCH_SHAPES_SCALE:-1}" -prefix "${BENCH_SHAPES_PREFIX:-hp_bench_}"
fi

# hp diff and sync batch: a PostgreSQL table and its MariaDB copy with
# 0.1% of the rows changed, compared in full and with --hash (computed,
# then maintained by hp checksums, with its install time and its
# triggers' cost on writes) and then synced, beside hp cp snap of the same table (to local CSV, and the copy
# into MariaDB): seconds, rows/s of the table's rows, peak RSS of hp and
# of its largest plugin. BENCH_DIFF_ROWS (default 5000000);
# BENCH_DIFF_TABLE (default hp_bench_diff) names the table on both
# servers; BENCH_DIFF_CHANGES, when set, changes that many rows (an
# UPDATE spread evenly over the keys) instead of 0.1%.
DIFF_ROWS=${BENCH_DIFF_ROWS:-5000000}
DT=${BENCH_DIFF_TABLE:-hp_bench_diff}
DIFF_CHANGES=${BENCH_DIFF_CHANGES:-}
if ! want diff; then
	:
elif psql "$PG" -Atc "select 1" >/dev/null 2>&1 && mariadb -h127.0.0.1 -uroot test -e "select 1" >/dev/null 2>&1; then
	have=$(psql "$PG" -Atc "select count(*) from $DT" 2>/dev/null || echo 0)
	if [ "$have" != "$DIFF_ROWS" ]; then
		echo
		echo "== loading $DIFF_ROWS rows into PostgreSQL ($DT)"
		psql "$PG" -q -v ON_ERROR_STOP=1 -c "drop table if exists $DT" -c "create table $DT (id bigint primary key, name text, amount numeric(12,2), note text, at timestamptz)" \
			-c "insert into $DT select g, 'name ' || g, g * 0.37, md5(g::text), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' from generate_series(1, $DIFF_ROWS) g" \
			-c "vacuum analyze $DT"
	fi
	echo
	echo "== hp diff and sync batch: $DIFF_ROWS rows, PostgreSQL against its MariaDB copy with ${DIFF_CHANGES:-0.1%} changed (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
	env_diff=(HP_PG_DSN="$PG" HP_MY_DSN="mysql://root@127.0.0.1:3306/test" HP_PLUGIN_DIR="$BIN/plugins")
	timed() { # label, then the hp arguments; exit 1 (differences) is success
		local label=$1
		shift
		env "${env_diff[@]}" go run ./testkit/cmd/snapbench -hp "$BIN/hp" -rows "$DIFF_ROWS" -ok-exit 1 -label "$label" -- "$@" --log-level warn >"$tmp_diff/line" 2>"$tmp_diff/err" || { cat "$tmp_diff/err"; return 1; }
		sed 's/ *[0-9.]* MB\/s out//' "$tmp_diff/line"
	}
	tmp_diff=$(mktemp -d)
	mariadb -h127.0.0.1 -uroot test -e "drop table if exists $DT, hp_checksums_$DT, hp_checksums_${DT}_blk"
	# A run stopped midway may have left maintained checksums on the kept
	# PostgreSQL table.
	env "${env_diff[@]}" "$BIN/hp" checksums drop pg.public.$DT >/dev/null 2>&1
	env "${env_diff[@]}" "$BIN/hp" cp meta pg.public.$DT my.$DT --execute >/dev/null
	timed "hp cp snap PostgreSQL → MariaDB" cp snap pg.public.$DT my.$DT
	timed "hp cp snap PostgreSQL → CSV (local)" cp snap pg.public.$DT out.bench --format csv
	if [ -n "$DIFF_CHANGES" ]; then
		mariadb -h127.0.0.1 -uroot test -e "update $DT set amount = amount + 1 where id % $((DIFF_ROWS / DIFF_CHANGES)) = 7"
	else
		# 0.1%: half of it changed values, a quarter deleted, a quarter new.
		mariadb -h127.0.0.1 -uroot test -e "update $DT set amount = amount + 1 where id % 2000 = 1; \
			delete from $DT where id % 4000 = 2; \
			insert into $DT select id + $DIFF_ROWS, name, amount, note, at from $DT where id <= $((DIFF_ROWS / 4000))"
	fi
	timed "hp diff (full read of both)" diff pg.public.$DT my.$DT
	timed "hp diff --hash" diff pg.public.$DT my.$DT --hash
	echo "--hash summary: $(env "${env_diff[@]}" "$BIN/hp" diff pg.public.$DT my.$DT --hash --output json 2>&1 >/dev/null | sed '/^hp: error/d' | tr -d '\n ')"
	# Maintained checksums (hp checksums): the install on both sides, the
	# triggers' cost on an UPDATE of 1% of the rows (the same on both
	# sides, so the differences stay), and --hash summing the hashes.
	seconds() { # label, then a command
		local label=$1 t0
		shift
		t0=$(date +%s%N)
		"$@" >/dev/null
		printf '%-48s %8.2fs\n' "$label" "$(echo "($(date +%s%N) - $t0) / 1000000000" | bc -l)"
	}
	update1=(psql "$PG" -q -c "update $DT set amount = amount + 1 where id % 100 = 3")
	update1my=(mariadb -h127.0.0.1 -uroot test -e "update $DT set amount = amount + 1 where id % 100 = 3")
	seconds "UPDATE of 1% in PostgreSQL, no triggers" "${update1[@]}"
	seconds "UPDATE of 1% in MariaDB, no triggers" "${update1my[@]}"
	seconds "hp checksums install (PostgreSQL)" env "${env_diff[@]}" "$BIN/hp" checksums install pg.public.$DT
	seconds "hp checksums install (MariaDB)" env "${env_diff[@]}" "$BIN/hp" checksums install my.$DT
	seconds "UPDATE of 1% in PostgreSQL, with triggers" "${update1[@]}"
	seconds "UPDATE of 1% in MariaDB, with triggers" "${update1my[@]}"
	timed "hp diff --hash (maintained checksums)" diff pg.public.$DT my.$DT --hash
	echo "--hash summary: $(env "${env_diff[@]}" "$BIN/hp" diff pg.public.$DT my.$DT --hash --output json 2>&1 >/dev/null | sed '/^hp: error/d' | tr -d '\n ')"
	timed "hp sync batch (one transaction)" sync batch pg.public.$DT my.$DT
	env "${env_diff[@]}" "$BIN/hp" diff pg.public.$DT my.$DT --hash >/dev/null 2>&1 || { echo "differences left after the sync"; exit 1; }
	env "${env_diff[@]}" "$BIN/hp" checksums drop pg.public.$DT >/dev/null
	env "${env_diff[@]}" "$BIN/hp" checksums drop my.$DT >/dev/null
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	rm -rf "$tmp_diff"
else
	echo "PostgreSQL or MariaDB is not reachable: skipping the diff benchmark"
fi
