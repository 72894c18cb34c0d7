#!/bin/sh
# A sync handler for -Mrsyncshell. clsync runs it in the watch dir as
#   handler.sh rsynclist LABEL INCLUDE-LIST [EXCLUDE-LIST] DESTINATION
# with this template:
#   clsync -Mrsyncshell -S handler.sh -W SRC -D DST -- \
#     rsynclist %label% %INCLUDE-LIST-PATH% %EXCLUDE-LIST-PATH% %destination-dir%
# and syncs what the lists name, deleting what went away.
set -e
[ "$1" = rsynclist ] || { echo "handler.sh: unexpected action $1" >&2; exit 22; }
label=$2 inc=$3 exc=$4 dst=$5
rc=0
rsync -aH --delete-before --exclude-from "$exc" --include-from "$inc" --exclude='*' ./ "$dst/" || rc=$?
# 24: files vanished while rsync ran; their removal is an event of its own.
[ "$rc" = 24 ] && rc=0
exit "$rc"
