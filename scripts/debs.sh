#!/usr/bin/env bash
# debs.sh installs the Debian packages the build and the tests need: gcc
# and binutils for the cgo plugins (objdump checks their glibc floor), the
# cross gcc and binutils for the other Lambda architecture (make lambda
# builds the cgo plugins for both), libaio of both architectures for the
# Oracle client layers,
# the ODBC driver manager and the drivers the odbc plugin is tested
# through. It costs one
# dpkg-query when they are present; apt-get update runs only when one is
# missing. Needs root (CI runs as root) or sudo.
set -euo pipefail

pkgs=(gcc libc6-dev binutils libaio1 unixodbc unixodbc-dev odbc-postgresql odbc-mariadb tdsodbc)
case $(dpkg --print-architecture) in
	amd64) pkgs+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
	arm64) pkgs+=(gcc-x86-64-linux-gnu binutils-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
esac

# One dpkg-query for all of them (it fails when one is unknown to dpkg).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
	[[ $'\n'$installed$'\n' == *$'\n'"$p install ok installed"$'\n'* ]] || missing+=("$p")
done
# libaio of the other Lambda architecture, for its Oracle client layer: a
# foreign (multiarch) package, looked for by its file.
case $(dpkg --print-architecture) in
	amd64) other=arm64 triplet=aarch64-linux-gnu ;;
	arm64) other=amd64 triplet=x86_64-linux-gnu ;;
	*) other= ;;
esac
if [[ -n $other && ! -e /usr/lib/$triplet/libaio.so.1 ]]; then
	missing+=("libaio1:$other")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "debs.sh: installing ${missing[*]}" >&2
if [[ -n $other ]] && ! dpkg --print-foreign-architectures | grep -qx "$other"; then
	"${sudo[@]}" dpkg --add-architecture "$other"
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
