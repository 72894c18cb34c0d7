#!/bin/sh
# Builds clsync-go and mirrors SRC into DST, live, until Ctrl-C.
# Without arguments it makes a small demo tree and a temporary destination
# and prints both paths: change files in the first, watch them arrive in the
# second.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
export PATH="$PATH:/usr/local/go/bin"
# The static cgo build: --seccomp-filter needs libseccomp.
make build

if [ $# -eq 0 ]; then
  src=$(mktemp -d /tmp/clsync-demo-src.XXXXXX)
  dst=$(mktemp -d /tmp/clsync-demo-dst.XXXXXX)
  for d in docs src/lib "name with spaces"; do
    mkdir -p "$src/$d"
    for i in 1 2 3; do echo "demo file $i in $d" > "$src/$d/file$i.txt"; done
  done
  echo "hello" > "$src/README"
elif [ $# -eq 2 ]; then
  src=$1 dst=$2
  mkdir -p "$dst"
else
  echo "usage: $0 [SRC DST]" >&2
  exit 22
fi

echo "source:      $src"
echo "destination: $dst"
echo "mirroring live; change files in the source, Ctrl-C to stop"
exec ./clsync -M rsyncdirect -W "$src" -D "$dst" -w0 -t0 -T0
