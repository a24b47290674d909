#!/usr/bin/env bash
# layer/build.sh ARCH OUTDIR: build the AWS Lambda packages of hp for one
# architecture (amd64 or arm64) into OUTDIR:
#
#   hp-function-<lambdaarch>.zip         bootstrap (the hp binary) at the zip root
#   hp-layer-<plugin>-<lambdaarch>.zip   hp/plugins/hp-plugin-<plugin>
#                                        hp/plugins/SHA256SUMS.<plugin>
#                                        hp/plugins/PLUGININFO.<plugin>
#
#   hp-layer-oracle-client-<lambdaarch>.zip  lib/: Oracle Instant Client and
#                                        libaio, from the Instant Client zip
#                                        the user downloads (Oracle's licence
#                                        forbids shipping it): set
#                                        ORACLE_INSTANT_CLIENT_ZIP (x86_64) or
#                                        ORACLE_INSTANT_CLIENT_ZIP_ARM64
#
# <lambdaarch> is Lambda's name for the architecture: x86_64 or arm64. A
# layer unpacks into /opt, so its plugin lands in /opt/hp/plugins, which hp
# searches. Each layer carries its own SHA256SUMS.<plugin> because Lambda
# merges all layers into one /opt: a shared SHA256SUMS would be overwritten
# by the next layer. See layer/README.md and docs/lambda.md.
#
# PLUGININFO.<plugin> (`hp plugins index`) tells hp what the plugin serves
# and which variables it reads, so that a cold start starts only the
# plugins its job needs, each once. hp for this machine writes it: HP names one, else it
# is built here (with the Makefile's flags its packages come from the build
# cache). It asks the layer's own binary when that runs here, else the
# plugin of the same name in LAYER_INFO_FROM, builds of the same source for
# this machine (`make lambda` passes bin/plugins), else in plugins built
# here for this machine.
#
# A plugin whose directory holds a file named CGO is built with cgo, for
# the glibc of the Lambda OS (Amazon Linux 2023: glibc 2.34): with gcc for
# the host's architecture, or Debian's cross compiler
# (gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu and
# libc6-dev-arm64-cross on amd64; the x86-64 ones on arm64: scripts/debs.sh
# installs them) for the other one. Its layer is skipped with a message
# when that compiler is missing, or when a C library the plugin links (the
# -l flags of its own #cgo LDFLAGS, e.g. hp-plugin-odbc's libodbc) is not
# found by it: for the other architecture that takes Debian's multiarch
# packages (dpkg --add-architecture arm64; apt-get install
# unixodbc-dev:arm64). Its dynamic symbols must need no glibc newer than
# 2.34 (objdump -T of the target's binutils).
#
# LAYER_PLUGINS (default: every plugin) names the plugins to build layers
# for, separated by spaces, e.g. LAYER_PLUGINS=oracle.
# LAYER_FUNCTION=0 builds the layers only, not the function zip (a test
# that checks only layers then does not compile hp for the architecture);
# Lambda's size limits are then checked on the layers alone.
#
# VERSION (default: git describe, else "dev") is stamped into the binaries.
# Binaries are built with -trimpath (no build machine paths in them);
# LAYER_TRIMPATH=0 drops it so that a test's build reuses the packages
# `go test` compiled (-trimpath changes every package's build ID).
# LAYER_ZIP_LEVEL (default 9) is the zips' deflate level; the tests use 1.
# LAYER_GCFLAGS, when set, is passed to go build as -gcflags: the tests
# that check only the packaging of a cross build use "all=-N -l" (no
# optimisation: a quarter less compiling), with CGO_CFLAGS="-O0 -g0" for
# the C code.
# Zips are written by a small Python script (no zip package needed) with
# sorted entries, fixed timestamps and explicit modes (0755 binaries and
# directories, 0644 other files), so equal inputs give equal zips.
set -euo pipefail
# hp plugins index refuses a plugin directory that group can write.
umask 022

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
gcflags=()
[[ -n ${LAYER_GCFLAGS:-} ]] && gcflags=(-gcflags "$LAYER_GCFLAGS")

# Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
max_unzipped=262144000   # function + its layers, unzipped: 250 MB
max_direct_zip=52428800  # a zip uploaded directly (not from S3): 50 MB
max_layers=5             # layers attached to one function

stage=$(mktemp -d "${TMPDIR:-/tmp}/hp-lambda.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# zipdir ZIP DIR: zip the contents of DIR (paths relative to DIR) and
# print the zip's size and the size of its contents unpacked, in bytes.
# Symbolic links are stored as links (libclntsh.so -> libclntsh.so.23.1).
zipdir() {
	python3 - "$1" "$2" "${LAYER_ZIP_LEVEL:-9}" <<'PY'
import os, sys, zipfile

out, root, level = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
    for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if os.path.islink(path):
            z.writestr(entry(rel, 0o120777), os.readlink(path))
            continue
        if os.path.isdir(path):
            info = entry(rel + "/", 0o40755)
            info.external_attr |= 0x10  # MS-DOS directory flag
            z.writestr(info, b"")
            continue
        executable = os.stat(path).st_mode & 0o111
        info = entry(rel, 0o100755 if executable else 0o100644)
        with open(path, "rb") as f:
            z.writestr(info, f.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
    unzipped = sum(i.file_size for i in z.infolist())
os.replace(tmp, out)
print(os.path.getsize(out), unzipped)
PY
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

# -tags on the command line replaces the -tags of GOFLAGS (the Makefile's
# netgo,osusergo): build() keeps those beside its own, so that the
# function shares the packages hp's other builds compiled.
goflags_tags=$(sed -nE 's/(^|.* )-tags[= ]([^ ]+).*/\2/p' <<<"${GOFLAGS:-}")

build() { # build OUT PKG [TAGS]
	local out=$1 pkg=$2 tags=${goflags_tags}${goflags_tags:+${3:+,}}${3:-}
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build $trimpath ${gcflags[@]+"${gcflags[@]}"} ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out" "$pkg"
	chmod 0755 "$out"
}

# The C toolchain of a cgo plugin for $arch: the host's gcc and objdump, or
# Debian's cross tools. Empty when missing.
glibc_floor=2.34 # Amazon Linux 2023, the OS of Lambda's provided.al2023
case $arch in
	amd64) triplet=x86_64-linux-gnu ;;
	arm64) triplet=aarch64-linux-gnu ;;
esac
native=0 # whether $arch binaries run here
[[ $("$GO" env GOHOSTARCH) == "$arch" && $(uname -s) == Linux ]] && native=1
if [[ $native == 1 ]]; then
	# gcc by name, as go's default CC: a path would change the build IDs of
	# cgo packages and recompile what the tests already built.
	cc=$(command -v gcc >/dev/null && echo gcc || true) objdump=$(command -v objdump || true)
else
	cc=$(command -v "$triplet-gcc" || true) objdump=$(command -v "$triplet-objdump" || true)
fi

# missing_libs P: the C libraries plugin P links (-lNAME in its own #cgo
# LDFLAGS) that $cc does not find, as libNAME, one a line.
missing_libs() {
	local l
	for l in $(grep -rhoE --include='*.go' '#cgo[^:]*LDFLAGS:.*' "plugins/$1" | grep -oE -- '-l[[:alnum:]_+.-]+' | sed 's/^-l//' | sort -u); do
		[[ $("$cc" -print-file-name="lib$l.so") == /* ]] || echo "lib$l"
	done
}

# build_plugins CGO OUTDIR PLUGIN...: build the plugins in one go build
# (it compiles the packages they share once, where a go build each would
# compile them once per plugin at the same time, and links them in
# parallel), each executable named after its directory in OUTDIR.
build_plugins() {
	local cgo=$1 out=$2 p pkgs=()
	shift 2
	for p in "$@"; do pkgs+=("./plugins/$p"); done
	mkdir -p "$out"
	if [[ $cgo == 1 ]]; then
		CGO_ENABLED=1 CC=$cc GOOS=linux GOARCH=$arch "$GO" build $trimpath ${gcflags[@]+"${gcflags[@]}"} -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"
	else
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build $trimpath ${gcflags[@]+"${gcflags[@]}"} -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"
	fi
}

# glibc_check BIN: fail when a cgo plugin needs a newer glibc than Lambda's.
glibc_check() {
	local out=$1 need
	need=$("$objdump" -T "$out" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
	if [[ -n $need && $(printf '%s\n%s\n' "$need" "$glibc_floor" | sort -V | tail -1) != "$glibc_floor" ]]; then
		echo "$0: $out needs glibc $need, newer than Lambda's $glibc_floor (Amazon Linux 2023): build it on an older glibc" >&2
		exit 1
	fi
	# One line per plugin: the layers are packaged at once.
	echo "  $(basename "$out") needs glibc ${need:-(none)}, Lambda has $glibc_floor"
}

rows=()   # "file zipped unzipped"

# can_build P: whether plugin P can be built for $arch here; a cgo plugin
# whose C toolchain or libraries are missing is skipped with a message.
can_build() {
	local p=$1 libs
	[[ -e plugins/$p/CGO ]] || return 0
	if [[ -z $cc || -z $objdump ]]; then
		echo "skip hp-plugin-$p for linux/$arch: it is built with cgo and needs $triplet-gcc and $triplet-objdump (Debian: apt-get install gcc-${triplet//_/-} binutils-${triplet//_/-}; scripts/debs.sh installs them)" >&2
		return 1
	fi
	libs=$(missing_libs "$p")
	if [[ -n $libs ]]; then
		echo "skip hp-plugin-$p for linux/$arch: it links $(echo $libs), which $cc does not find for $triplet (Debian multiarch: dpkg --add-architecture ${triplet%%-*}, then the library's -dev:ARCH package)" >&2
		return 1
	fi
}

# info P DIR: write DIR/PLUGININFO.P (see the top).
info() {
	if [[ $native == 1 ]]; then
		"$host_hp" plugins index --log-level warn --file "PLUGININFO.$1" "$2"
	else
		"$host_hp" plugins index --log-level warn --file "PLUGININFO.$1" --info-from "$info_from" "$2"
	fi
}

# layer P: package plugin P, built into $stage/bin-cgo0 or bin-cgo1, as its
# layer zip and write its row to $stage/row-P. Layers are packaged at
# once, each in a background job: zips are single-threaded.
layer() {
	local p=$1 dir=$stage/layer-$1/hp/plugins
	mkdir -p "$dir"
	if [[ -e plugins/$p/CGO ]]; then
		mv "$stage/bin-cgo1/$p" "$dir/hp-plugin-$p"
		chmod 0755 "$dir/hp-plugin-$p"
		glibc_check "$dir/hp-plugin-$p"
	else
		mv "$stage/bin-cgo0/$p" "$dir/hp-plugin-$p"
		chmod 0755 "$dir/hp-plugin-$p"
	fi
	# A plugin's layer.sh adds the libraries it needs at run time.
	if [[ -x plugins/$p/layer.sh ]]; then
		plugins/$p/layer.sh "$stage/layer-$p" "$triplet"
	fi
	(cd "$dir" && sha256 "hp-plugin-$p" >"SHA256SUMS.$p")
	local out
	out=$(info "$p" "$dir" 2>&1) || { echo "$0: writing PLUGININFO.$p: $out" >&2; exit 1; }
	local zip=hp-layer-$p-$lambda_arch.zip sizes
	sizes=$(zipdir "$outdir/$zip" "$stage/layer-$p")
	echo "$zip $sizes" >"$stage/row-$p"
}

function_zip() {
	echo "build hp $VERSION for linux/$arch (Lambda $lambda_arch)"
	mkdir -p "$stage/function"
	build "$stage/function/bootstrap" ./core/cmd/hp lambda.norpc
	if [[ $native == 1 ]]; then
		"$stage/function/bootstrap" version >/dev/null || { echo "$0: the built bootstrap does not run" >&2; exit 1; }
	fi
	local zip=hp-function-$lambda_arch.zip sizes
	sizes=$(zipdir "$outdir/$zip" "$stage/function")
	echo "$zip $sizes" >"$stage/row-function"
}

plugins=()
for main in plugins/*/main.go; do
	[[ -e $main ]] || continue
	p=$(basename "$(dirname "$main")")
	[[ -z ${LAYER_PLUGINS:-} || " $LAYER_PLUGINS " == *" $p "* ]] && plugins+=("$p")
done
for p in ${LAYER_PLUGINS:-}; do
	[[ -e plugins/$p/main.go ]] || { echo "$0: LAYER_PLUGINS names $p, which is not a plugin (plugins/$p/main.go)" >&2; exit 2; }
done
# The plugins that can be built, by cgo setting.
cgo0=() cgo1=()
for p in ${plugins[@]+"${plugins[@]}"}; do  # (bash 3.2: an empty array is "unbound")
	can_build "$p" || continue
	if [[ -e plugins/$p/CGO ]]; then cgo1+=("$p"); else cgo0+=("$p"); fi
done
# Two builds at once: the plugins without cgo, then the function (hp
# shares many packages with them, compiled by then), and the cgo plugins
# (built for another configuration, they share few compiled packages).
jobs=()
{
	if ((${#cgo0[@]} > 0)); then
		for p in "${cgo0[@]}"; do echo "build hp-plugin-$p for linux/$arch"; done
		build_plugins 0 "$stage/bin-cgo0" "${cgo0[@]}"
	fi
	if [[ ${LAYER_FUNCTION:-1} == 0 ]]; then
		echo "skip the function zip (LAYER_FUNCTION=0): layers only"
		echo "none 0 0" >"$stage/row-function"
	else
		function_zip
	fi
} & jobs+=($!)
if ((${#cgo1[@]} > 0)); then
	for p in "${cgo1[@]}"; do echo "build hp-plugin-$p for linux/$arch (cgo, $cc)"; done
	build_plugins 1 "$stage/bin-cgo1" "${cgo1[@]}" & jobs+=($!)
fi
failed=0
for j in "${jobs[@]}"; do wait "$j" || failed=1; done
((failed == 0)) || { echo "$0: a build failed (see above)" >&2; exit 1; }
# hp and, for a cross build, the plugins for this machine, which write the
# info files.
host_hp=${HP:-}
if [[ -z $host_hp && $native == 1 && -x $stage/function/bootstrap ]]; then
	host_hp=$stage/function/bootstrap
elif [[ -z $host_hp ]]; then
	echo "build hp for this machine (it writes the plugin info files)"
	CGO_ENABLED=0 "$GO" build -ldflags "$ldflags" -o "$stage/host/hp" ./core/cmd/hp
	host_hp=$stage/host/hp
fi
info_from=${LAYER_INFO_FROM:-}
if [[ $native != 1 && -z $info_from ]] && ((${#cgo0[@]} + ${#cgo1[@]} > 0)); then
	echo "build the plugins for this machine (they answer for the $arch ones in the info files)"
	info_from=$stage/host-plugins
	mkdir -p "$info_from"
	((${#cgo0[@]} == 0)) || CGO_ENABLED=0 "$GO" build -ldflags "$ldflags" -o "$info_from/" "${cgo0[@]/#/./plugins/}"
	((${#cgo1[@]} == 0)) || CGO_ENABLED=1 "$GO" build -ldflags "$ldflags" -o "$info_from/" "${cgo1[@]/#/./plugins/}"
	for p in ${cgo0[@]+"${cgo0[@]}"} ${cgo1[@]+"${cgo1[@]}"}; do mv "$info_from/$p" "$info_from/hp-plugin-$p"; done
fi
jobs=()
for p in ${cgo0[@]+"${cgo0[@]}"} ${cgo1[@]+"${cgo1[@]}"}; do
	layer "$p" & jobs+=($!)
done
for j in ${jobs[@]+"${jobs[@]}"}; do wait "$j" || failed=1; done
((failed == 0)) || { echo "$0: a layer failed (see above)" >&2; exit 1; }

read -r _ _ function_size <"$stage/row-function"
[[ ${LAYER_FUNCTION:-1} == 0 ]] || rows+=("$(cat "$stage/row-function")")
for p in ${plugins[@]+"${plugins[@]}"}; do
	[[ -e $stage/row-$p ]] || continue
	rows+=("$(cat "$stage/row-$p")")
	[[ $p == oracle ]] && read -r _ _ oracle_size <"$stage/row-$p"
done

# The Oracle client layer: lib/ holds Instant Client's libraries and libaio
# (Lambda puts /opt/lib on LD_LIBRARY_PATH), from the zip the user
# downloaded from Oracle for this architecture.
ic_var=ORACLE_INSTANT_CLIENT_ZIP
[[ $arch == arm64 ]] && ic_var=ORACLE_INSTANT_CLIENT_ZIP_ARM64
ic_zip=${!ic_var:-}
client_size=0
if [[ -n $ic_zip ]]; then
	[[ -f $ic_zip ]] || { echo "$0: $ic_var=$ic_zip: no such file" >&2; exit 1; }
	echo "build the Oracle client layer for linux/$arch from $ic_zip"
	lib=$stage/layer-oracle-client/lib
	mkdir -p "$lib"
	# The shared libraries of the zip's instantclient_* directory, links kept.
	python3 - "$ic_zip" "$lib" <<'PY'
import os, stat, sys, zipfile

src, lib = sys.argv[1], sys.argv[2]
found = False
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        name = os.path.basename(info.filename)
        if info.is_dir() or ".so" not in name:
            continue
        dst = os.path.join(lib, name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            os.symlink(z.read(info).decode(), dst)
        else:
            with open(dst, "wb") as f:
                f.write(z.read(info))
            os.chmod(dst, 0o755)
        found = found or name.startswith("libclntsh.so")
if not found:
    sys.exit(src + " holds no libclntsh.so: it is not an Oracle Instant Client Basic or Basic Light zip")
PY
	# Instant Client's libclntsh needs libaio, which Amazon Linux 2023's
	# Lambda image lacks: the layer carries Debian's.
	aio=$(ls /usr/lib/$triplet/libaio.so.1* /lib/$triplet/libaio.so.1* 2>/dev/null | head -1 || true)
	if [[ -z $aio ]]; then
		echo "$0: libaio.so.1 for $triplet is missing (Debian: apt-get install libaio1, or libaio1:arm64 for arm64)" >&2
		exit 1
	fi
	cp -L "$aio" "$lib/libaio.so.1"
	chmod 0755 "$lib/libaio.so.1"
	zip=hp-layer-oracle-client-$lambda_arch.zip
	sizes=$(zipdir "$outdir/$zip" "$stage/layer-oracle-client")
	read -r zipped client_size <<<"$sizes"
	rows+=("$zip $zipped $client_size")
fi

# The table, and Lambda's limits.
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo
printf '%-36s %22s %22s\n' FILE ZIPPED UNZIPPED
status=0
for r in "${rows[@]}"; do
	read -r file zipped unzipped <<<"$r"
	printf '%-36s %10s %11d %10s %11d\n' "$file" "$(mib "$zipped")" "$zipped" "$(mib "$unzipped")" "$unzipped"
done
# A function attaches at most $max_layers layers: the largest it can have
# is the function with the $max_layers largest plugin layers.
largest=$function_size
for r in "${rows[@]}"; do
	read -r file _ unzipped <<<"$r"
	if [[ $file == hp-layer-* && $file != hp-layer-oracle-client-* ]]; then echo "$unzipped"; fi
done | sort -rn | awk -v n="$max_layers" 'NR <= n' >"$stage/largest"
while read -r size; do largest=$((largest + size)); done <"$stage/largest"
what="function + $max_layers largest layers"
[[ ${LAYER_FUNCTION:-1} == 0 ]] && what="$max_layers largest layers (no function)"
printf '%-36s %22s %10s %11d\n' "$what" "" "$(mib "$largest")" "$largest"
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
oracle_total=$((function_size + ${oracle_size:-0} + client_size))
if ((client_size > 0 && oracle_total > max_unzipped)); then
	echo "error: an Oracle function (the function, the oracle layer and the Oracle client layer) is $oracle_total bytes unzipped, above Lambda's limit of $max_unzipped (250 MB): use Instant Client Basic Light" >&2
	status=1
fi
if ((largest > max_unzipped)); then
	echo "error: the function and its $max_layers largest layers are $largest bytes unzipped together, above Lambda's limit of $max_unzipped (250 MB)" >&2
	status=1
fi
exit $status
