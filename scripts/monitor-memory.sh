#!/bin/sh
# Kernel memory and watch-setup time of each --monitor on one tree of many
# directories (default 100,000, on the root file system, where inodes can be
# evicted), side by side in one run. As root: it drops the kernel's caches.
#   sh scripts/monitor-memory.sh [BIN] [DIRS] [MONITORS]
# For each monitor: the agent starts on a cold cache and walks the tree;
# then the caches are dropped again while it runs. What stays in the slab
# then is what the watches pin; inotify pins an inode per directory,
# fanotify nothing per directory.
set -eu
bin=$(realpath "${1:-./clsync}")
dirs=${2:-100000}
monitors=${3:-inotify fanotify}
work=$(mktemp -d /var/tmp/monitor-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/tree
mkdir -p "$tree"
echo "making $dirs directories in $tree"
python3 - "$tree" "$dirs" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.makedirs(os.path.join(root, "d%03d" % (i % 1000), "e%d" % (i // 1000)), exist_ok=True)
EOF
# max_user_watches must not be what stops inotify here.
old_watches=$(cat /proc/sys/fs/inotify/max_user_watches)
if [ "$old_watches" -lt $((dirs + 10000)) ]; then
  echo $((dirs + 10000)) > /proc/sys/fs/inotify/max_user_watches
  trap 'echo "$old_watches" > /proc/sys/fs/inotify/max_user_watches; rm -rf "$work"' EXIT
fi
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
settle() { sync; echo 2 > /proc/sys/vm/drop_caches; }
printf '%-9s %14s %18s %18s %16s %10s\n' monitor watched setup_ms slab_walked_kB slab_pinned_kB rss_kB
for m in $monitors; do
  settle
  slab0=$(kb Slab)
  log=$work/$m.log
  "$bin" --monitor="$m" -Msimple -S /bin/true -W "$tree" -d1 -Y stderr 2>"$log" &
  pid=$!
  while ! grep -q 'tree watched' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; exit 1; fi
    sleep 0.2
  done
  line=$(grep 'tree watched' "$log")
  watched=$(echo "$line" | sed 's/.*directories=\([0-9]*\).*/\1/')
  took=$(echo "$line" | sed 's/.*took=\([0-9.a-zµ]*\).*/\1/')
  case $took in
    *ms) ms=${took%ms} ;;
    *s) ms=$(awk -v s="${took%s}" 'BEGIN { print s * 1000 }') ;;
    *) ms=$took ;;
  esac
  slab1=$(kb Slab)
  settle
  slab2=$(kb Slab)
  rss=$(awk '$1 == "VmRSS:" {print $2}' /proc/$pid/status)
  kill "$pid"
  wait "$pid" || true
  printf '%-9s %14s %18s %18s %16s %10s\n' "$m" "$watched" "$ms" $((slab1 - slab0)) $((slab2 - slab0)) "$rss"
done
