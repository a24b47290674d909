#!/usr/bin/env bash
# plugins/odbc/layer.sh DIR: add what hp-plugin-odbc needs at run time to
# its Lambda layer tree DIR (unpacked into /opt): unixODBC's driver
# manager in lib/ (on Lambda's LD_LIBRARY_PATH) and an odbcinst.ini in
# etc/ for drivers installed under /opt. A vendor driver comes as a
# further layer that puts its library under /opt and its section in
# /opt/etc/odbcinst.ini; the function sets ODBCSYSINI=/opt/etc.
set -euo pipefail
dir=$1
mkdir -p "$dir/lib" "$dir/etc"
# awk reads all of ldconfig's list: leaving early would kill it with SIGPIPE.
for lib in libodbc.so.2 libodbcinst.so.2 libltdl.so.7; do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|AArch64/ && !found {print $NF; found = 1}')
	[[ -n $path ]] || { echo "$0: $lib not found (run scripts/debs.sh)" >&2; exit 1; }
	cp -L "$path" "$dir/lib/$lib"
done
cat >"$dir/etc/odbcinst.ini" <<'INI'
; Drivers for hp-plugin-odbc on AWS Lambda (ODBCSYSINI=/opt/etc). Add a
; section per driver layer, with Driver= pointing under /opt, e.g.
; [ODBC Driver 18 for SQL Server]
; Driver=/opt/microsoft/msodbcsql18/lib64/libmsodbcsql-18.so
INI
: >"$dir/etc/odbc.ini"
