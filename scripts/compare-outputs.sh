#!/bin/bash
# compare-outputs.sh REV: runs the same snapshots and deltas (gen source,
# every format, both layouts) through hp built at REV and at the working
# tree, and fails unless the data files and .man files are byte-identical
# and the manifests equal once run ids, times and names carrying them are
# set aside. For refactors that must not change what hp writes.
set -euo pipefail
rev=${1:?usage: compare-outputs.sh REV}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/old" "$rev"
(cd "$work/old" && CGO_ENABLED=0 go build -o "$work/hp-old" ./core/cmd/hp)
(cd "$root" && CGO_ENABLED=0 go build -o "$work/hp-new" ./core/cmd/hp && make -s plugins >/dev/null)
# One core, so that parallel Parquet encoding cannot reorder pages.
export GOMAXPROCS=1 HP_PLUGIN_DIR=$root/bin/plugins HP_SRC_DSN="gen://?rows=30000" HP_CACHE_DIR=$work/cache
for v in old new; do
	mkdir -p "$work/out-$v"
	export HP_OUT_DSN=$work/out-$v
	hp=$work/hp-$v
	"$hp" cp snap src.all_types out.csv --max-file-rows 7000 2>/dev/null
	"$hp" cp snap src.all_types out.pq --format parquet 2>/dev/null
	"$hp" cp snap src.narrow out.jl --format jsonl --compression none 2>/dev/null
	"$hp" cp snap src.narrow out.hp/n --layout halfpipe --csv-delimiter '|' 2>/dev/null
	"$hp" cp delta src.narrow out.d --delta-driver id --delta-size 10000 --format parquet 2>/dev/null
	"$hp" cp delta src.narrow out.hd/n --delta-driver id --delta-size 15000 --layout halfpipe 2>/dev/null
done
stamp='s#[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}#RUN#g; s#[0-9]{8}T[0-9]{6}#TS#g'
data() {
	cd "$1"
	find . -type f ! -name '*manifest.json' ! -name '_state.json' ! -name '*.man' -print0 | xargs -0 sha256sum | sed -E "$stamp" | sort
	find . -name '*.man' | sort | while read -r f; do echo "$f"; cat "$f"; done | sed -E "$stamp"
}
manifests() {
	find "$1" -name '*manifest.json' | while read -r f; do
		jq -S -c 'del(.run_id,.started_at,.finished_at,.tool_version) | .files |= map(del(.path,.url))' "$f"
	done | sed "s#$1#OUT#g" | sort
}
diff <(data "$work/out-old") <(data "$work/out-new")
diff <(manifests "$work/out-old") <(manifests "$work/out-new")
echo "identical: $(find "$work/out-new" -type f ! -name "*manifest.json" ! -name _state.json ! -name "*.man" | wc -l) data files, $(find "$work/out-new" -name '*.man' | wc -l) .man files, $(find "$work/out-new" -name '*manifest.json' | wc -l) manifests"
