#!/usr/bin/env bash
# make demo: snapshot a demo SQLite table to ./out as Parquet and CSV.
# Needs no server; hp finds its plugins in bin/plugins beside bin/hp.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo out
go run ./testkit/cmd/mkdemo -out demo/sample.db -rows 300000

export HP_DEMO_DSN="sqlite://$PWD/demo/sample.db"
export HP_OUT_DSN="file://$PWD/out"
echo
echo "$ hp cp snap demo.sample_data out.sample_data --format parquet"
bin/hp cp snap demo.sample_data out.sample_data --format parquet
echo
echo "$ hp cp snap demo.sample_data out.sample_data_csv --format csv --max-file-rows 100000 --output json"
bin/hp cp snap demo.sample_data out.sample_data_csv --format csv --max-file-rows 100000 --output json | tee out/.last-summary.json
manifest=$(sed -n 's/.*"manifest_url": "file:\/\/\(.*\)".*/\1/p' out/.last-summary.json)
rm -f out/.last-summary.json
echo
echo "== manifest $manifest (schema omitted)"
sed '/"schema": {/,$d' "$manifest"
echo
echo "== first lines of the first CSV file"
{ gzip -dc "$(dirname "$manifest")/part-00001.csv.gz" || true; } 2>/dev/null | head -4 || true
