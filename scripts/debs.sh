#!/usr/bin/env bash
# debs.sh installs the Debian packages the build and the tests need: gcc
# and binutils for the cgo plugins (objdump checks their glibc floor), the
# cross gcc and binutils for the other Lambda architecture (make lambda
# builds the cgo plugins for both), libaio of both architectures for the
# Oracle client layers, unixODBC of both for the odbc layers,
# the ODBC driver manager and the drivers the odbc plugin is tested
# through. It costs one
# dpkg-query when they are present; apt-get update runs only when one is
# missing. Needs root (CI runs as root) or sudo.
set -euo pipefail

# One run at a time (make test starts one in the background and make
# plugins another): a second one waits, then finds everything installed
# instead of failing on apt's lock.
if command -v flock >/dev/null; then
	exec 9>"${TMPDIR:-/tmp}/halfpipe-debs.lock"
	flock 9
fi

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
# For the other Lambda architecture, foreign (multiarch) packages looked
# for by their files: libaio for its Oracle client layer, and unixODBC's
# headers and libraries (libodbc, libodbcinst, libltdl) that hp-plugin-odbc
# is cross-built against and its layer ships.
case $(dpkg --print-architecture) in
	amd64) other=arm64 triplet=aarch64-linux-gnu ;;
	arm64) other=amd64 triplet=x86_64-linux-gnu ;;
	*) other= ;;
esac
if [[ -n $other ]]; then
	[[ -e /usr/lib/$triplet/libaio.so.1 ]] || missing+=("libaio1:$other")
	[[ -e /usr/lib/$triplet/libodbc.so && -e /usr/lib/$triplet/libodbcinst.so.2 && -e /usr/lib/$triplet/libltdl.so.7 ]] || missing+=("unixodbc-dev:$other")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "debs.sh: installing ${missing[*]}" >&2
if [[ -n $other ]] && ! dpkg --print-foreign-architectures | grep -qx "$other"; then
	"${sudo[@]}" dpkg --add-architecture "$other"
fi
# Another apt-get (a second make, the machine's own updates) holds dpkg's
# lock for a while: wait for it instead of failing the build.
lock=(-o DPkg::Lock::Timeout=600)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
