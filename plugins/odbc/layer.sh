#!/usr/bin/env bash
# plugins/odbc/layer.sh DIR TRIPLET: add what hp-plugin-odbc needs at run
# time to its Lambda layer tree DIR (unpacked into /opt), for the Debian
# multiarch TRIPLET (x86_64-linux-gnu, aarch64-linux-gnu): unixODBC's driver
# manager in lib/ (on Lambda's LD_LIBRARY_PATH) and an odbcinst.ini in
# etc/ for drivers installed under /opt. A vendor driver comes as a
# further layer that puts its library under /opt and its section in
# /opt/etc/odbcinst.ini; the function sets ODBCSYSINI=/opt/etc.
set -euo pipefail
dir=$1 triplet=$2
mkdir -p "$dir/lib" "$dir/etc"
for lib in libodbc.so.2 libodbcinst.so.2 libltdl.so.7; do
	path=/usr/lib/$triplet/$lib
	[[ -e $path ]] || { echo "$0: $path not found (unixodbc for $triplet: scripts/debs.sh installs the host's)" >&2; exit 1; }
	cp -L "$path" "$dir/lib/$lib"
done
cat >"$dir/etc/odbcinst.ini" <<'INI'
; Drivers for hp-plugin-odbc on AWS Lambda (ODBCSYSINI=/opt/etc). Add a
; section per driver layer, with Driver= pointing under /opt, e.g.
; [ODBC Driver 18 for SQL Server]
; Driver=/opt/microsoft/msodbcsql18/lib64/libmsodbcsql-18.so
INI
: >"$dir/etc/odbc.ini"
