#!/usr/bin/env bash
# layer/build.sh ARCH OUTDIR: build the AWS Lambda packages of hp for one
# architecture (amd64 or arm64) into OUTDIR:
#
#   hp-function-<lambdaarch>.zip         bootstrap (the hp binary) at the zip root
#   hp-layer-<plugin>-<lambdaarch>.zip   hp/plugins/hp-plugin-<plugin>
#                                        hp/plugins/SHA256SUMS.<plugin>
#
# <lambdaarch> is Lambda's name for the architecture: x86_64 or arm64. A
# layer unpacks into /opt, so its plugin lands in /opt/hp/plugins, which hp
# searches. Each layer carries its own SHA256SUMS.<plugin> because Lambda
# merges all layers into one /opt: a shared SHA256SUMS would be overwritten
# by the next layer. See layer/README.md and docs/lambda.md.
#
# VERSION (default: git describe, else "dev") is stamped into the binaries.
# Binaries are built with -trimpath (no build machine paths in them);
# LAYER_TRIMPATH=0 drops it so that a test's build reuses the packages
# `go test` compiled (-trimpath changes every package's build ID).
# Zips are written by a small Python script (no zip package needed) with
# sorted entries, fixed timestamps and explicit modes (0755 binaries and
# directories, 0644 other files), so equal inputs give equal zips.
set -euo pipefail

usage() { echo "usage: $0 amd64|arm64 OUTDIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
arch=$1
case "$arch" in
	amd64) lambda_arch=x86_64 ;;
	arm64) lambda_arch=arm64 ;;
	*) echo "$0: unknown architecture '$arch' (want amd64 or arm64)" >&2; usage ;;
esac
mkdir -p "$2"
outdir=$(cd "$2" && pwd)
cd "$(dirname "$0")/.."

GO=${GO:-go}
command -v python3 >/dev/null || { echo "$0: python3 is needed to write the zips" >&2; exit 1; }
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X main.version=$VERSION"
trimpath=-trimpath
[[ ${LAYER_TRIMPATH:-1} == 0 ]] && trimpath=

# Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
max_unzipped=262144000   # function + its layers, unzipped: 250 MB
max_direct_zip=52428800  # a zip uploaded directly (not from S3): 50 MB
max_layers=5             # layers attached to one function

stage=$(mktemp -d "${TMPDIR:-/tmp}/hp-lambda.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# zipdir ZIP DIR: zip the contents of DIR (paths relative to DIR) and
# print the zip's size and the size of its contents unpacked, in bytes.
zipdir() {
	python3 - "$1" "$2" <<'PY'
import os, sys, zipfile

out, root = sys.argv[1], sys.argv[2]
epoch = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold

def entry(name, mode):
    info = zipfile.ZipInfo(name, date_time=epoch)
    info.create_system = 3  # Unix: external_attr holds the mode
    info.external_attr = mode << 16
    return info

paths = []
for dirpath, dirnames, filenames in os.walk(root):
    for d in dirnames:
        paths.append(os.path.join(dirpath, d))
    for f in filenames:
        paths.append(os.path.join(dirpath, f))
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if os.path.isdir(path):
            info = entry(rel + "/", 0o40755)
            info.external_attr |= 0x10  # MS-DOS directory flag
            z.writestr(info, b"")
            continue
        executable = os.stat(path).st_mode & 0o111
        info = entry(rel, 0o100755 if executable else 0o100644)
        with open(path, "rb") as f:
            z.writestr(info, f.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    unzipped = sum(i.file_size for i in z.infolist())
os.replace(tmp, out)
print(os.path.getsize(out), unzipped)
PY
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

build() { # build OUT PKG [TAGS]; CGO=1 builds with cgo
	local out=$1 pkg=$2 tags=${3:-}
	CGO_ENABLED=${CGO:-0} GOOS=linux GOARCH=$arch "$GO" build $trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out" "$pkg"
	chmod 0755 "$out"
}

rows=()   # "file zipped unzipped"
total=0

echo "build hp $VERSION for linux/$arch (Lambda $lambda_arch)"
mkdir -p "$stage/function"
build "$stage/function/bootstrap" ./core/cmd/hp lambda.norpc
if [[ $(uname -s) == Linux && $("$GO" env GOHOSTARCH) == "$arch" ]]; then
	"$stage/function/bootstrap" version >/dev/null || { echo "$0: the built bootstrap does not run" >&2; exit 1; }
fi
zip=hp-function-$lambda_arch.zip
sizes=$(zipdir "$outdir/$zip" "$stage/function")
read -r zipped size <<<"$sizes"
rows+=("$zip $zipped $size")
total=$((total + size))

plugins=()
for main in plugins/*/main.go; do
	[[ -e $main ]] || continue
	plugins+=("$(basename "$(dirname "$main")")")
done
for p in ${plugins[@]+"${plugins[@]}"}; do  # (bash 3.2: an empty array is "unbound")
	# A plugin with a file named CGO wraps a C library: it is built with
	# cgo, for the host's architecture only (no cross C toolchain), and
	# its layer.sh adds the libraries it needs.
	cgo=0
	if [[ -e plugins/$p/CGO ]]; then
		cgo=1
		if [[ $(uname -s) != Linux || $("$GO" env GOHOSTARCH) != "$arch" ]]; then
			echo "skip hp-plugin-$p for linux/$arch: it is built with cgo, which needs a C toolchain and libraries for linux/$arch (build it on such a machine)" >&2
			continue
		fi
	fi
	echo "build hp-plugin-$p for linux/$arch"
	dir=$stage/layer-$p/hp/plugins
	mkdir -p "$dir"
	CGO=$cgo build "$dir/hp-plugin-$p" "./plugins/$p"
	if [[ -x plugins/$p/layer.sh ]]; then
		plugins/$p/layer.sh "$stage/layer-$p"
	fi
	(cd "$dir" && sha256 "hp-plugin-$p" >"SHA256SUMS.$p")
	zip=hp-layer-$p-$lambda_arch.zip
	sizes=$(zipdir "$outdir/$zip" "$stage/layer-$p")
	read -r zipped size <<<"$sizes"
	rows+=("$zip $zipped $size")
	total=$((total + size))
done

# The table, and Lambda's limits.
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo
printf '%-36s %22s %22s\n' FILE ZIPPED UNZIPPED
status=0
for r in "${rows[@]}"; do
	read -r file zipped unzipped <<<"$r"
	printf '%-36s %10s %11d %10s %11d\n' "$file" "$(mib "$zipped")" "$zipped" "$(mib "$unzipped")" "$unzipped"
done
printf '%-36s %22s %10s %11d\n' "function + all layers" "" "$(mib "$total")" "$total"
echo "output: $outdir"
echo
for r in "${rows[@]}"; do
	read -r file zipped _ <<<"$r"
	if ((zipped > max_direct_zip)); then
		echo "warning: $file is larger than 50 MB zipped: upload it to S3 and give Lambda its location (create-function --code, publish-layer-version --content: S3Bucket=...,S3Key=...)" >&2
	fi
done
if ((${#plugins[@]} > max_layers)); then
	echo "warning: ${#plugins[@]} plugin layers were built but a function can attach at most $max_layers layers: attach only the plugins the function needs" >&2
fi
if ((total > max_unzipped)); then
	echo "error: the function and its ${#plugins[@]} layers are $total bytes unzipped together, above Lambda's limit of $max_unzipped (250 MB)" >&2
	status=1
fi
exit $status
