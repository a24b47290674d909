#!/usr/bin/env bash
# debs.sh installs the Debian packages the build and the tests need: gcc
# and binutils for the cgo plugins (objdump checks their glibc floor),
# libaio for the Oracle client layer, the ODBC driver manager and the
# drivers the odbc plugin is tested through. It costs one
# dpkg-query when they are present; apt-get update runs only when one is
# missing. Needs root (CI runs as root) or sudo.
set -euo pipefail

pkgs=(gcc libc6-dev binutils libaio1 unixodbc unixodbc-dev odbc-postgresql odbc-mariadb tdsodbc)

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "debs.sh: installing ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
