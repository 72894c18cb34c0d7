#!/bin/sh
# One-shot sync exactly as clsync's authors document it ('Atomic' sync):
# sync the tree, then every change made meanwhile, and exit once nothing is
# left (at most 20 iterations). The template names the destination itself,
# so no -D is needed (clsync 0.4.5 refuses this line with exit 22).
#   usage: atomic-sync.sh SRC DST
set -e
src=${1:?usage: $0 SRC DST}
dst=${2:?usage: $0 SRC DST}
exec clsync --exit-on-no-events --max-iterations=20 --mode=rsyncdirect -W"$src" -Srsync -- %RSYNC-ARGS% "$src/" "$dst/"
