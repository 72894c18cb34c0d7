#!/bin/sh
# Real-time ownership fixing (man clsync, "Fixing privileges of a web-site"):
# every file or directory that root creates under the web root is handed to
# www-data within about a second. --modification-signature uid,gid keeps
# chown's own changes from starting it again; -x1 ignores chown's exit code 1
# for objects that vanished meanwhile.
#   usage: fix-ownership.sh WEBROOT [OWNER:GROUP]
set -e
root=${1:?usage: $0 WEBROOT [OWNER:GROUP]}
owner=${2:-www-data:www-data}
exec clsync -w1 -t1 -T1 -x1 -W "$root" -Mdirect -Schown --uid 0 --gid 0 \
	--modification-signature uid,gid -- --from=root "$owner" %INCLUDE-LIST%
