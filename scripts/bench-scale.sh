#!/usr/bin/env bash
# Issue 12's scale figures, side by side with Debian's clsync 0.4.5, lsyncd
# 2.2.3 and the harness's naive agent (a full rsync every 0.2 s), as root:
#
#   scripts/bench-scale.sh [options] [startup|storm|huge|all ...]     (default: all)
#
#   startup  1M files / 100k dirs on tmpfs: agent start -> verified mirror,
#            CPU, peak RSS, watches (../shared/bench/run.sh startup; ref's
#            mirror time is one full rsync: the floor)
#   storm    the harness's 36,767-op burst on a 1M-file tree: convergence
#            time, agent and rsync CPU (run.sh storm); then the same burst
#            timed by our driver, since at 1M files the harness's own
#            hashing of the tree (~45 s) is inside its convergence time
#   huge     the slides' 4,789,558 objects (mostly empty files) on tmpfs: the
#            agent starts, mirrors, then follows a seeded 10k-op random storm
#            to an exact mirror, on inotify (go) and fanotify (gofan), beside
#            clsync, lsyncd and a plain rsync (driver below: see "Why our own
#            driver")
#
# Options: --bin PATH (our clsync, default ./clsync), --bench PATH (run.sh),
# --out DIR (default /tmp/clsync-bench-scale; each run in DIR/STAMP, DIR/latest
# points to it), --workdir DIR (where the tmpfs mount points go, /var/tmp).
# Sizes and agents come from the environment, so a smoke run is e.g.
#   FILES=10000 DIRS=1000 STORM_BASE=10000 STORM_DIRS=1000 HUGE=20000 scripts/bench-scale.sh all
#   FILES DIRS (1000000 100000)       startup tree
#   STORM_BASE STORM_DIRS (1000000 100000)  storm base tree; STORM_FILES (20000):
#        files the burst creates (half appended to, a third deleted: the harness's)
#   HUGE (4789558) HUGE_DIRS (HUGE/11) HUGE_OPS (10000) HUGE_NONEMPTY (0.01: share
#        of files with 1..4096 bytes) SEED (1)       the huge tree and its storm
#   REPS (1) WARMUP (1) STORM_REPS (1)   harness repetitions (A B A B)
#   TIMEOUT (900 s: the harness's wait) HUGE_TIMEOUT (1800 s: each wait of our
#        driver) SETTLE (15 s: our driver gives up when the agent and the
#        destination have been idle this long) DELAY (1: agents' -w/-t/-T)
#   QUEUE (1048576: fs.inotify.max_queued_events for storm and huge, so that
#        clsync 0.4.5 copes; empty: the kernel's) WATCHES (2000000)
#   STARTUP_AGENTS STORM_AGENTS (go,clsync,lsyncd,ref) STORM_TIMED_AGENTS
#        (STORM_AGENTS,rsync; STORM_TIMED=0: not run) HUGE_AGENTS
#        (go,gofan,clsync,lsyncd,ref,rsync). Labels: go = --bin, gofan = --bin
#        with --monitor=fanotify, clsync, lsyncd = Debian's, ref = the naive
#        loop, rsync (our driver only) = one plain `rsync -aH --delete` before
#        and one after the storm: the floor.
#
# At full size, on this 2-core, 24 GiB machine: about 3 hours (startup ~12 min,
# storm ~25 min + ~20 min timed, huge ~1.5-2 h: ~15 min per agent, more where
# lsyncd runs into HUGE_TIMEOUT), ~20 GiB at peak (the harness's storm: base
# tree, its copy and the destination, ~5 GiB each, plus ~4 GiB of Python
# snapshots), huge ~11 GiB. Each part warns when MemAvailable looks too small.
#
# Prints each part's tables as it goes and at the end a summary with ratios:
# time to mirror against ref's and a plain rsync's, peak RSS against
# clsync's. Results: OUT/STAMP/{startup,storm,storm-timed,huge}/ (the
# harness's tables.md and results.json; the driver's results.json, ops.jsonl,
# agent logs, diff-*.txt of divergent runs), OUT/STAMP/summary.md.
#
# Why our own driver for "huge": the harness snapshots whole trees in Python
# (~0.9 KB per entry: ~4.3 GiB for the source, as much again for each
# destination compare), and its random check keeps a base tree, a copy and the
# destination (three trees of ~1 KB of slab per entry: 14 GB at 4.8M), and
# re-scans the destination every 0.5 s while it waits. The driver instead
# mounts a tmpfs each for source and destination (nr_inodes raised: the default
# is half the RAM's pages, ~3M here), regenerates the seeded tree for each
# agent (no third copy), keeps its model of the tree in arrays (a few bytes per
# entry), polls the destination's inode count (one statfs) and verifies with
# `rsync -rlpcn --delete -i` (types, modes, content, symlink targets, extra
# and missing entries; no times or owners, as the harness) printing nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BIN=${BIN:-$repo/clsync}
BENCH=${BENCH:-$repo/../shared/bench/run.sh}
OUT=${OUT:-/tmp/clsync-bench-scale}
WORKDIR=${WORKDIR:-/var/tmp}
FILES=${FILES:-1000000}
DIRS=${DIRS:-100000}
STORM_BASE=${STORM_BASE:-1000000}
STORM_DIRS=${STORM_DIRS:-100000}
STORM_FILES=${STORM_FILES:-20000}
HUGE=${HUGE:-4789558}
HUGE_DIRS=${HUGE_DIRS:-$((HUGE / 11))}
HUGE_OPS=${HUGE_OPS:-10000}
HUGE_NONEMPTY=${HUGE_NONEMPTY:-0.01}
SEED=${SEED:-1}
REPS=${REPS:-1}
WARMUP=${WARMUP:-1}
STORM_REPS=${STORM_REPS:-1}
TIMEOUT=${TIMEOUT:-900}
HUGE_TIMEOUT=${HUGE_TIMEOUT:-1800}
SETTLE=${SETTLE:-15}
DELAY=${DELAY:-1}
QUEUE=${QUEUE-1048576}
WATCHES=${WATCHES:-2000000}
STARTUP_AGENTS=${STARTUP_AGENTS:-go,clsync,lsyncd,ref}
STORM_AGENTS=${STORM_AGENTS:-go,clsync,lsyncd,ref}
HUGE_AGENTS=${HUGE_AGENTS:-go,gofan,clsync,lsyncd,ref,rsync}
STORM_TIMED=${STORM_TIMED:-1}
STORM_TIMED_AGENTS=${STORM_TIMED_AGENTS:-$STORM_AGENTS,rsync}
RSYNC=${RSYNC:-$(command -v rsync || echo /usr/bin/rsync)}
PY=${PY:-$(command -v python3)}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
parts=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;     --bin=*) BIN=${1#*=}; shift ;;
    --bench) BENCH=$2; shift 2 ;; --bench=*) BENCH=${1#*=}; shift ;;
    --out) OUT=$2; shift 2 ;;     --out=*) OUT=${1#*=}; shift ;;
    --workdir) WORKDIR=$2; shift 2 ;; --workdir=*) WORKDIR=${1#*=}; shift ;;
    -h|--help) usage 0 ;;
    startup|storm|huge) parts+=("$1"); shift ;;
    all) parts+=(startup storm huge); shift ;;
    *) echo "bench-scale: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(startup storm huge)

die() { echo "bench-scale: $*" >&2; exit 1; }
say() { echo "[bench-scale $(date +%H:%M:%S)] $*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (tmpfs mounts, sysctls; clsync drops to nobody)"
BIN=$(realpath "$BIN"); BENCH=$(realpath "$BENCH")
REF=${REF:-$(dirname "$BENCH")/selftest/rsync-loop-agent.sh}
[ -x "$BIN" ] || die "$BIN: not executable (make build)"
[ -x "$BENCH" ] || die "$BENCH: no harness"
[ -n "$PY" ] || die "python3 not found"

stamp=$(date +%Y%m%d-%H%M%S)
run=$OUT/$stamp
mkdir -p "$run"
ln -sfn "$stamp" "$OUT/latest"
work=$(mktemp -d "$WORKDIR/clsync-bench-scale.XXXXXX")
chmod 755 "$work"  # clsync 0.4.5 drops to nobody and writes its lists below it
# fanotify as a custom agent of the harness: a wrapper, so the harness runs
# it with clsync's command line like any other binary.
gofan=$work/gofan
printf '#!/bin/sh\nexec %s --monitor=fanotify "$@"\n' "'$BIN'" > "$gofan"
chmod 755 "$gofan"

# --- cleanup: sysctls back (only if still ours), our mounts off, work dir gone
sysctl_saved=()
set_sysctl() {  # raise /proc/sys/fs/inotify/$1 to $2 for this run
  local f=/proc/sys/fs/inotify/$1 old
  old=$(cat "$f")
  [ "$old" -lt "$2" ] || return 0
  echo "$2" > "$f"
  sysctl_saved+=("$1:$old:$2")
  say "fs.inotify.$1 $old -> $2 (restored at exit)"
}
restore_sysctls() {
  local e name old ours
  for e in "${sysctl_saved[@]+"${sysctl_saved[@]}"}"; do
    IFS=: read -r name old ours <<EOF
$e
EOF
    # Someone else may have changed it meanwhile: then it is theirs.
    if [ "$(cat /proc/sys/fs/inotify/$name)" = "$ours" ]; then
      echo "$old" > "/proc/sys/fs/inotify/$name"
    fi
  done
  sysctl_saved=()
}
umount_ours() {  # every mount below our work dir, deepest first
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then  # the harness or the driver: its own cleanup
    say "stopping $child"
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ -s "$work/agent.pid" ]; then  # an agent the huge driver left running
    kill -KILL -- "-$(cat "$work/agent.pid")" 2>/dev/null || true
  fi
  restore_sysctls
  umount_ours
  rm -rf "$work"
  exit "$rc"
}
# Each part runs in the background while we wait, so that a signal reaches
# us at once (bash runs traps only between foreground commands); background
# children of a script ignore SIGINT, so cleanup passes it on as SIGTERM,
# which the harness and the driver both take as "clean up and stop".
child=
bg() { "$@" & child=$!; local rc=0; wait "$child" || rc=$?; child=; return "$rc"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A tmpfs of our own: the harness's trees would not fit /dev/shm's default
# inode count (half the RAM's pages) beside anything else there.
mount_tmpfs() {  # DIR NR_INODES
  mkdir -p "$1"
  mount -t tmpfs -o "size=${TMPFS_SIZE:-90%},nr_inodes=$2,mode=0755" bench-scale "$1"
}

# Rough peak memory of each part (MiB), from the 1M-file harness runs here:
# a harness tree costs ~5 KB per file (a 4 KiB page per non-empty file, ~1 KB of
# slab) and its Python snapshots ~0.9 KB per entry; a huge-tree entry ~1 KB.
need_mib() {  # startup: source + destination + snapshots; storm: + the base tree
  case $1 in
    startup) echo $(( (FILES + DIRS) * 12 / 1024 + 300 )) ;;
    storm) echo $(( (STORM_BASE + STORM_DIRS) * 19 / 1024 + 300 )) ;;
    huge) echo $(( HUGE * 2 / 1024 + 500 )) ;;
  esac
}
check_memory() {
  local avail need
  avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  need=$(need_mib "$1")
  say "$1: needs ~$need MiB at peak, $avail MiB available"
  [ "$need" -le "$avail" ] || say "WARNING: $1 may not fit in memory (OOM kills, or a failed tmpfs write)"
}

# --agent/--bin arguments of the harness for a comma list of labels.
harness_agents() {
  local a
  hargs=(--agent "$1")
  for a in ${1//,/ }; do
    case $a in
      go) hargs+=(--bin "go=$BIN") ;;
      gofan) hargs+=(--bin "gofan=$gofan") ;;
      ref) hargs+=(--bin "ref=$REF") ;;
      clsync|lsyncd) ;;
      *) die "unknown agent $a" ;;
    esac
  done
}

hwork=$work/harness
harness_tmpfs() {  # INODES: the harness's base, source copy, symlinks and storm
  umount_ours
  mount_tmpfs "$hwork" "$1"
}

part_startup() {
  check_memory startup
  harness_tmpfs $(( (FILES + DIRS) * 12 / 10 + 100000 ))
  harness_agents "$STARTUP_AGENTS"
  say "startup: $FILES files / $DIRS dirs, agents $STARTUP_AGENTS"
  bg "$BENCH" startup --files "$FILES" --dirs "$DIRS" --max-user-watches "$WATCHES" \
    "${hargs[@]}" --reps "$REPS" --warmup "$WARMUP" --timeout "$TIMEOUT" --delay "$DELAY" \
    --workdir "$hwork" --out "$run/startup" || say "startup: harness exited $?"
}

part_storm() {
  check_memory storm
  harness_tmpfs $(( (STORM_BASE + STORM_DIRS) * 24 / 10 + STORM_FILES + 200000 ))
  harness_agents "$STORM_AGENTS"
  say "storm: base $STORM_BASE files / $STORM_DIRS dirs, agents $STORM_AGENTS"
  bg "$BENCH" storm --storm-base-files "$STORM_BASE" --storm-base-dirs "$STORM_DIRS" \
    --storm-files "$STORM_FILES" \
    --max-user-watches "$WATCHES" ${QUEUE:+--max-queued-events "$QUEUE"} \
    "${hargs[@]}" --reps "$STORM_REPS" --timeout "$TIMEOUT" --delay "$DELAY" \
    --workdir "$hwork" --out "$run/storm" || say "storm: harness exited $?"
  umount_ours
  # The harness's convergence time starts after it has hashed the whole
  # source (~45 s at 1M files) and ends after a scan of the destination: at
  # this size that floors every agent's time. The same burst once more, timed
  # by our driver (inode count polled, rsync verification after the fact).
  [ "$STORM_TIMED" = 1 ] || return 0
  say "storm, timed by our driver: agents $STORM_TIMED_AGENTS"
  HB_TOTAL=$((STORM_BASE + STORM_DIRS)) HB_DIRS=$STORM_DIRS HB_OPS=$STORM_FILES HB_NONEMPTY=1 \
    driver harness "$run/storm-timed" "$STORM_TIMED_AGENTS"
}

part_huge() {
  check_memory huge
  say "huge: $HUGE objects ($HUGE_DIRS dirs), $HUGE_OPS-op storm, agents $HUGE_AGENTS"
  HB_TOTAL=$HUGE HB_DIRS=$HUGE_DIRS HB_OPS=$HUGE_OPS HB_NONEMPTY=$HUGE_NONEMPTY \
    driver random "$run/huge" "$HUGE_AGENTS"
}

# driver STORM OUTDIR AGENTS (sizes in HB_TOTAL HB_DIRS HB_OPS HB_NONEMPTY): for
# each agent, one tmpfs each for source and destination: generate the seeded
# tree, start the agent, wait for the verified mirror, apply the storm (random:
# the harness's random mix; harness: the harness's storm burst) back to back,
# wait for the verified mirror again.
driver() {
  umount_ours
  # Every directory is a watch (plus those the storm makes) for the agent
  # running, and root's other processes may hold some: room for both.
  set_sysctl max_user_watches $(( WATCHES > 2 * HB_DIRS + 100000 ? WATCHES : 2 * HB_DIRS + 100000 ))
  [ -z "$QUEUE" ] || set_sysctl max_queued_events "$QUEUE"
  mkdir -p "$2"
  HB_STORM=$1 HB_OUT=$2 HB_AGENTS=$3 HB_WORK=$work HB_SEED=$SEED HB_TIMEOUT=$HUGE_TIMEOUT \
  HB_SETTLE=$SETTLE HB_DELAY=$DELAY HB_BIN=$BIN HB_REF=$REF HB_RSYNC=$RSYNC \
  HB_TMPFS_SIZE=${TMPFS_SIZE:-90%} \
    "$PY" - <<'PY' &
import array, ctypes, json, os, random, shutil, signal, stat, subprocess, sys, time

E = os.environ
WORK, OUT = E['HB_WORK'], E['HB_OUT']
TOTAL, NDIRS = int(E['HB_TOTAL']), int(E['HB_DIRS'])
NFILES = TOTAL - NDIRS
NOPS, SEED, STORM = int(E['HB_OPS']), int(E['HB_SEED']), E['HB_STORM']
# random: most files empty (the slides' tree), NONEMPTY of them 1..4096 bytes;
# harness: every file 0..2048 bytes, 1% 16..64 KiB (the harness's trees)
NONEMPTY = float(E['HB_NONEMPTY']) if STORM == 'random' else None
TIMEOUT, SETTLE, DELAY = float(E['HB_TIMEOUT']), float(E['HB_SETTLE']), E['HB_DELAY']
RSYNC = E['HB_RSYNC']
SRC, DST = os.path.join(WORK, 'driver', 'src'), os.path.join(WORK, 'driver', 'dst')
NR_INODES = TOTAL + TOTAL // 4 + 20 * NOPS + 100000
CLK = os.sysconf('SC_CLK_TCK')
now = time.perf_counter


def say(*a):
    print('[bench-scale driver %s]' % time.strftime('%H:%M:%S'), *a, file=sys.stderr, flush=True)


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def mount(path):
    os.makedirs(path, exist_ok=True)
    sh('mount', '-t', 'tmpfs', '-o', 'size=%s,nr_inodes=%d,mode=0755' % (E['HB_TMPFS_SIZE'], NR_INODES),
       'bench-scale', path)


def umount(path):
    # Unmounting frees millions of tmpfs inodes at once (rm -r would take minutes).
    while os.path.ismount(path):
        if subprocess.run(['umount', path], stderr=subprocess.DEVNULL).returncode:
            time.sleep(0.5)
            subprocess.run(['umount', '-l', path], stderr=subprocess.DEVNULL)


def inodes(path):
    s = os.statvfs(path)
    return s.f_files - s.f_ffree


def slab_kb():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('Slab:'):
                return int(line.split()[1])


# --- the tree: a random recursive tree like the harness's (each directory's
# parent drawn from those before it), files in random directories, most empty.
def gen_tree(root):
    rng = random.Random('huge:%d:%d:%d' % (SEED, NDIRS, NFILES))
    dparent = array.array('i', [-1])
    paths = [root]
    for i in range(1, NDIRS + 1):
        p = rng.randrange(i)
        dparent.append(p)
        paths.append('%s/d%06d' % (paths[p], i))
        os.mkdir(paths[i])
    fparent = array.array('i')
    pool = rng.randbytes(1 << 17)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(NFILES):
        p = rng.randrange(NDIRS + 1)
        fparent.append(p)
        fd = os.open('%s/f%07d' % (paths[p], i), flags, 0o644)
        if NONEMPTY is None:
            size = rng.randrange(16384, 65536) if rng.random() < 0.01 else rng.randrange(2049)
        else:
            size = rng.randrange(1, 4097) if rng.random() < NONEMPTY else 0
        if size:
            off = rng.randrange(len(pool) - size)
            os.write(fd, pool[off:off + size])
        os.close(fd)
    return dparent, fparent


# --- the storm: the harness's op mix (run.sh random), generated from a model
# of the tree held in arrays: parent index per directory and per file, names
# only where a rename changed them, liveness flags (an entry lives if it and
# all its ancestors do). Same seed -> same ops for every agent.
MIX = [('create', 19), ('append', 12), ('truncate', 3), ('ftruncate', 3), ('overwrite', 5),
       ('unlink', 7), ('rename_same_dir', 7), ('rename_cross_dir', 7), ('rename_replace', 4),
       ('mkdir', 6), ('mkdir_populated', 4), ('rename_dir', 6), ('rmtree', 2),
       ('symlink', 6), ('chmod_file', 6), ('chmod_dir', 3)]
FILE_MODES = [0o644, 0o600, 0o640, 0o664, 0o755, 0o700, 0o444]
DIR_MODES = [0o755, 0o750, 0o700, 0o775, 0o711]
POOL = 1 << 18


class Model:
    def __init__(self, dparent, fparent, rng):
        self.rng = rng
        self.dp, self.fp = array.array('i', dparent), array.array('i', fparent)
        self.dlive = bytearray(b'\1') * len(dparent)
        self.flive = bytearray(b'\1') * len(fparent)
        self.dname, self.fname, self.sym = {}, {}, set()
        self.n = 0

    def fresh(self, prefix):
        self.n += 1
        return '%s%d' % (prefix, self.n)

    def dpath(self, d):
        parts = []
        while d > 0:
            parts.append(self.dname.get(d) or 'd%06d' % d)
            d = self.dp[d]
        return '/'.join(reversed(parts))

    def fpath(self, f):
        d = self.dpath(self.fp[f])
        name = self.fname.get(f) or 'f%07d' % f
        return d + '/' + name if d else name

    def dir_alive(self, d):
        while d > 0:
            if not self.dlive[d]:
                return False
            d = self.dp[d]
        return True

    def pick_file(self, regular=False):
        for _ in range(100000):
            f = self.rng.randrange(len(self.fp))
            if self.flive[f] and self.dir_alive(self.fp[f]) and not (regular and f in self.sym):
                return f
        return None

    def pick_dir(self):  # not the root
        for _ in range(100000):
            d = self.rng.randrange(1, len(self.dp))
            if self.dir_alive(d):
                return d
        return 0

    def pick_parent(self):
        return 0 if self.rng.random() < 0.03 else self.pick_dir()

    def within(self, a, b):  # b is a or lies under a
        while b >= 0:
            if b == a:
                return True
            b = self.dp[b]
        return False

    def new_dir(self, parent):
        self.dp.append(parent)
        self.dlive.append(1)
        d = len(self.dp) - 1
        self.dname[d] = self.fresh('dn')
        return d

    def new_file(self, parent, sym=False):
        self.fp.append(parent)
        self.flive.append(1)
        f = len(self.fp) - 1
        self.fname[f] = self.fresh('s' if sym else 'n')
        if sym:
            self.sym.add(f)
        return f


def gen_ops(m, nops, rng):
    names, weights = zip(*MIX)
    ops = []

    def data():
        size = rng.randrange(4097)
        return rng.randrange(POOL - size), size

    def create(parent):
        ops.append(('create', m.fpath(m.new_file(parent))) + data())

    while len(ops) < nops:
        op = rng.choices(names, weights)[0]
        if op in ('create', 'append', 'truncate', 'ftruncate', 'overwrite', 'chmod_file'):
            f = m.pick_file(regular=True)
            if op == 'create' or f is None:
                create(m.pick_parent())
            elif op in ('append', 'overwrite'):
                ops.append((op, m.fpath(f)) + data())
            elif op == 'chmod_file':
                ops.append(('chmod', m.fpath(f), rng.choice(FILE_MODES)))
            else:
                ops.append((op, m.fpath(f), rng.randrange(1024)))
        elif op in ('unlink', 'rename_same_dir', 'rename_cross_dir', 'rename_replace'):
            f = m.pick_file()
            if f is None:
                create(m.pick_parent())
                continue
            old = m.fpath(f)
            if op == 'unlink':
                m.flive[f] = 0
                ops.append(('unlink', old))
                continue
            if op == 'rename_replace':
                v = m.pick_file()
                if v is None or v == f:
                    continue
                m.flive[v] = 0
                parent, name = m.fp[v], m.fname.get(v) or 'f%07d' % v
            else:
                parent = m.fp[f] if op == 'rename_same_dir' else m.pick_parent()
                name = m.fresh('m')
            m.fp[f] = parent
            m.fname[f] = name
            ops.append(('rename', old, m.fpath(f)))
        elif op in ('mkdir', 'mkdir_populated'):
            d = m.new_dir(m.pick_parent())
            ops.append(('mkdir', m.dpath(d)))
            if op == 'mkdir_populated':  # content created right after the mkdir
                create(d)
                create(d)
                sub = m.new_dir(d)
                ops.append(('mkdir', m.dpath(sub)))
                create(sub)
        elif op == 'rename_dir':
            d = m.pick_dir()
            if d == 0:  # no directory left but the root
                continue
            for _ in range(10):
                parent = m.pick_parent()
                if not m.within(d, parent):
                    break
            else:
                continue
            old = m.dpath(d)
            m.dp[d] = parent
            m.dname[d] = m.fresh('r')
            ops.append(('rename', old, m.dpath(d)))
        elif op == 'rmtree':
            # the youngest of three: a top directory would be most of the tree
            d = max(m.pick_dir() for _ in range(3))
            if d == 0:
                continue
            ops.append(('rmtree', m.dpath(d)))
            m.dlive[d] = 0
        elif op == 'symlink':
            parent = m.pick_parent()
            r = rng.random()
            pdir = m.dpath(parent) or '.'
            f = m.pick_file()
            if r < 0.6 and f is not None:
                target = os.path.relpath(m.fpath(f), pdir)
            elif r < 0.75:
                target = os.path.relpath(m.dpath(m.pick_dir()) or '.', pdir)
            else:
                target = 'dangling-%d' % rng.randrange(10 ** 6)
            ops.append(('symlink', m.fpath(m.new_file(parent, sym=True)), target))
        elif op == 'chmod_dir':
            d = m.pick_dir()
            if d:
                ops.append(('chmod', m.dpath(d), rng.choice(DIR_MODES)))
    return ops


def harness_storm_ops(m, rng):
    """The harness's storm burst (run.sh storm): 100 mkdirs, NOPS file
    creations round-robin over every directory, an append to every 2nd file,
    deletion of every 3rd."""
    dirs = list(range(len(m.dp)))
    ops = []
    for _ in range(100):
        d = m.new_dir(dirs[rng.randrange(len(dirs))])
        ops.append(('mkdir', m.dpath(d)))
        dirs.append(d)
    files = []
    for i in range(NOPS):
        d = m.dpath(dirs[i % len(dirs)])
        rel = (d + '/' if d else '') + 'sf%06d' % i
        size = rng.randrange(64, 1024)
        ops.append(('create', rel, rng.randrange(POOL - size), size))
        files.append(rel)
    ops += [('append', rel, rng.randrange(POOL - 256), 256) for rel in files[::2]]
    ops += [('unlink', rel) for rel in files[::3]]
    return ops


def storm_paths(ops):
    """Every path an op named, in op order."""
    out = []
    for op in ops:
        out.append(op[1])
        if op[0] == 'rename':
            out.append(op[2])
    return out


def run_ops(root, ops, pool):
    errors = []
    W = os.O_WRONLY
    for op in ops:
        k, p = op[0], os.path.join(root, op[1])
        try:
            if k in ('create', 'overwrite'):
                fd = os.open(p, W | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, pool[op[2]:op[2] + op[3]])
                os.close(fd)
            elif k == 'append':
                fd = os.open(p, W | os.O_APPEND)
                os.write(fd, pool[op[2]:op[2] + op[3]])
                os.close(fd)
            elif k == 'truncate':
                os.truncate(p, op[2])
            elif k == 'ftruncate':
                fd = os.open(p, W)
                os.ftruncate(fd, op[2])
                os.close(fd)
            elif k == 'unlink':
                os.unlink(p)
            elif k == 'rename':
                os.rename(p, os.path.join(root, op[2]))
            elif k == 'mkdir':
                os.mkdir(p)
            elif k == 'rmtree':
                shutil.rmtree(p)
            elif k == 'symlink':
                os.symlink(op[2], p)
            elif k == 'chmod':
                os.chmod(p, op[2])
        except OSError as e:
            errors.append('%s: %s' % (op, e))
    return errors


# --- agents: the harness's exact command lines (its README), own session.
LSYNCD = '''settings {{ nodaemon = true, logfile = {log} }}
sync {{ default.rsync, source = {src}, target = {dst}, delay = {delay},
       rsync = {{ binary = {rsync}, archive = true }} }}
'''


def argv_of(label, rundir):
    if label == 'lsyncd':
        cfg = os.path.join(rundir, 'lsyncd.conf.lua')
        with open(cfg, 'w') as f:
            f.write(LSYNCD.format(log=json.dumps(os.path.join(rundir, 'lsyncd.log')),
                                  src=json.dumps(SRC), dst=json.dumps(DST), delay=DELAY,
                                  rsync=json.dumps(RSYNC)))
        return ['/usr/bin/lsyncd', '-log', 'scarce', cfg], dict(os.environ)
    binary, extra = {'go': (E['HB_BIN'], []), 'gofan': (E['HB_BIN'], ['--monitor=fanotify']),
                     'clsync': ('/usr/bin/clsync', []), 'ref': (E['HB_REF'], [])}[label]
    tmp = os.path.join(rundir, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o1777)  # clsync writes its rsync lists there as nobody
    return ([binary, '-M', 'rsyncdirect', '-S', RSYNC, '-W', SRC, '-D', DST,
             '-w', DELAY, '-t', DELAY, '-T', DELAY] + extra, dict(os.environ, TMPDIR=tmp))


def proc_stat(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            r = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return {'state': r[0], 'session': int(r[3]), 'self': (int(r[11]) + int(r[12])) / CLK,
            'children': (int(r[13]) + int(r[14])) / CLK, 'start': int(r[19])}


def children(pid):
    out = []
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


class Agent:
    def __init__(self, label, rundir):
        self.label = label
        self.argv, env = argv_of(label, rundir)
        self.log = open(os.path.join(rundir, 'agent.log'), 'wb')
        self.t0 = now()
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env, cwd=rundir,
                                  start_new_session=True)
        self.pid = self.p.pid
        with open(os.path.join(WORK, 'agent.pid'), 'w') as f:
            f.write(str(self.pid))
        self.last = {'self': 0.0, 'children': 0.0, 'hwm_kb': None}

    def alive(self):
        return self.p.poll() is None

    def sample(self):
        st = proc_stat(self.pid) if self.alive() else None
        if st and st['state'] != 'Z':
            self.last['self'], self.last['children'] = st['self'], st['children']
            try:
                with open('/proc/%d/status' % self.pid) as f:
                    for line in f:
                        if line.startswith('VmHWM:'):
                            self.last['hwm_kb'] = int(line.split()[1])
            except OSError:
                pass
        return dict(self.last)

    def busy(self):
        return self.alive() and bool(children(self.pid))

    def marks(self):
        """(inotify watches, fanotify marks) held by the agent."""
        ino = fan = 0
        d = '/proc/%d/fd' % self.pid
        try:
            fds = os.listdir(d)
        except OSError:
            return None, None
        for fd in fds:
            try:
                link = os.readlink(os.path.join(d, fd))
                if 'inotify' not in link and 'fanotify' not in link:
                    continue
                with open('/proc/%d/fdinfo/%s' % (self.pid, fd)) as f:
                    for line in f:
                        if line.startswith('inotify wd:'):
                            ino += 1
                        elif line.startswith('fanotify ') and 'flags:' not in line[:15]:
                            fan += 1
            except OSError:
                pass
        return ino, fan

    def stop(self):
        """SIGTERM to its process group, SIGKILL after 10 s; then what it left."""
        desc, todo = [], [self.pid]
        while todo:
            for c in children(todo.pop()):
                st = proc_stat(c)
                if st:
                    desc.append((c, st['start']))
                    todo.append(c)
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.p.wait(10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait()
        for pid, start in desc:
            st = proc_stat(pid)
            if st and st['start'] == start and st['state'] != 'Z':
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # orphans of its session re-parented to us (we are a subreaper)
        for _ in range(100):
            kids = [c for c in children(os.getpid()) if (proc_stat(c) or {}).get('session') == self.pid]
            if not kids:
                break
            for c in kids:
                try:
                    os.kill(c, signal.SIGKILL)
                    os.waitpid(c, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.log.close()
        try:
            os.unlink(os.path.join(WORK, 'agent.pid'))
        except OSError:
            pass
        return self.p.returncode


def check(tag):
    """Exact compare: rsync's dry run lists every difference (types, modes,
    content by checksum, symlink targets, missing and extra entries)."""
    path = os.path.join(OUT, 'diff-%s.txt' % tag)
    t = now()
    with open(path, 'wb') as f:
        rc = subprocess.run([RSYNC, '-rlpcn', '--delete', '-i', SRC + '/', DST + '/'],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    with open(path, 'rb') as f:
        lines = sum(1 for _ in f)
    if lines == 0 and rc == 0:
        os.unlink(path)
    return rc == 0 and lines == 0, lines, now() - t


def explain(tag, ops, limit=500):
    """Divergent paths (the first `limit` lines of the verification) by the
    kind of the last storm op that named them ("~kind": only an ancestor or
    a descendant was named; "none": no op did, the base tree's entry)."""
    hist = {}
    try:
        with open(os.path.join(OUT, 'diff-%s.txt' % tag)) as f:
            lines = [next(f, '') for _ in range(limit)]
    except OSError:
        return hist
    for line in lines:
        if len(line) < 13 or line[11] != ' ' or line[0] not in '<>ch.*':
            continue  # rsync's own messages ("cannot delete non-empty directory")
        rel = line[12:].rstrip('\n').split(' -> ')[0].rstrip('/')  # itemize: 11 chars, name
        kind = 'none'
        for op in reversed(ops):
            named = op[1:3] if op[0] == 'rename' else op[1:2]
            if rel in named:
                kind = op[0]
                break
            if any(rel.startswith(a + '/') or a.startswith(rel + '/') for a in named):
                kind = '~' + op[0]
                break
        hist[kind] = hist.get(kind, 0) + 1
    return hist


def same(rel):
    """Is rel the same in source and destination (absent from both, or same
    type, mode, size and content or symlink target)?"""
    try:
        a = os.lstat(os.path.join(SRC, rel))
    except OSError:
        a = None
    try:
        b = os.lstat(os.path.join(DST, rel))
    except OSError:
        b = None
    if a is None or b is None:
        return a is None and b is None
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    try:
        if stat.S_ISLNK(a.st_mode):
            return os.readlink(os.path.join(SRC, rel)) == os.readlink(os.path.join(DST, rel))
        if stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
            return False
        if stat.S_ISREG(a.st_mode):
            if a.st_size != b.st_size:
                return False
            with open(os.path.join(SRC, rel), 'rb') as f, open(os.path.join(DST, rel), 'rb') as g:
                return f.read() == g.read()
    except OSError:
        return False
    return True


def wait_mirror(ag, tag, t_from, paths=()):
    """Poll the destination's inode count every 50 ms; when it equals the
    source's and every path the storm named is the same on both sides (a
    cheap pre-check: a full verification takes minutes at 4.8M entries, and
    content changes do not move the inode count), verify everything; the
    mirror's time is that poll's. Give up when agent and destination were
    idle SETTLE s (or TIMEOUT): then the verification's line count is the
    divergence."""
    want = inodes(SRC)
    seen, order = set(), []
    for p in reversed(paths):  # the storm's last ops first: the likeliest to lag
        if p not in seen:
            seen.add(p)
            order.append(p)
    next_check, checks, check_s, prechecks = 0.0, 0, 0.0, 0
    last_n, last_cpu, last_t, last_change = None, -1.0, 0.0, now()
    while True:
        t = now()
        died = not ag.alive()
        n = inodes(DST)
        if n == want and t >= next_check and not died:
            prechecks += 1
            if not all(same(p) for p in order):
                next_check = now() + 0.1
                continue
            ok, lines, dur = check(tag)
            checks += 1
            check_s += dur
            if ok:
                return {'ok': True, 't_hit': t, 'checks': checks, 'check_s': check_s,
                        'prechecks': prechecks}
            next_check = now() + max(1.0, dur)  # back off: leave the cores to the agent
        if t - last_t >= 0.5:
            s = ag.sample()
            cpu = s['self'] + s['children']
            if n != last_n or cpu - last_cpu > 0.02 or ag.busy():
                last_change = now()
            last_n, last_cpu, last_t = n, cpu, t
        why = ('agent exited rc=%s' % ag.p.returncode if died else
               'timeout' if now() - t_from > TIMEOUT else
               'settled' if now() - last_change > SETTLE else None)
        if why:
            ok, lines, dur = check(tag)
            return {'ok': ok, 't_hit': now(), 'why': why, 'divergent': lines,
                    'checks': checks + 1, 'check_s': check_s + dur}
        time.sleep(0.05)


class Rsync:
    """The floor: no agent, one plain full rsync at a time."""
    label = 'rsync'

    def run(self):
        t = now()
        c0 = os.times()
        rc = subprocess.run([RSYNC, '-aH', '--delete', SRC + '/', DST + '/']).returncode
        c1 = os.times()
        return now() - t, (c1.children_user + c1.children_system
                           - c0.children_user - c0.children_system), rc


def one(label, ops, pool, results, gen_s):
    """One agent on a fresh pristine tree: gen_s is how long it took when the
    caller made it; None: make it here."""
    rundir = os.path.join(WORK, 'driver', 'run-' + label)
    os.makedirs(rundir, exist_ok=True)
    res = {'agent': label, 'entries': TOTAL, 'dirs': NDIRS, 'ops': len(ops)}
    results.append(res)
    umount(DST)
    mount(DST)
    if gen_s is None:
        umount(SRC)
        mount(SRC)
        t = now()
        gen_tree(SRC)
        gen_s = now() - t
    res['gen_s'] = gen_s
    res['src_inodes'] = inodes(SRC)
    res['slab0_kb'] = slab_kb()
    say('%s: tree of %d inodes ready (generated in %.1fs); starting' % (label, res['src_inodes'], gen_s))
    if label == 'rsync':
        r = Rsync()
        res['mirror_s'], res['rsync_cpu_s'], rc = r.run()
        ok, lines, dur = check(label + '-mirror')
        res.update(mirror_ok=ok, check_s=dur, rc=rc, slab_mirror_kb=slab_kb())
        time.sleep(2)
        errs = run_ops(SRC, ops, pool)
        res['op_errors'] = len(errs)
        res['converge_s'], cpu, rc = r.run()
        res['rsync_cpu_s'] += cpu
        ok2, lines2, _ = check(label + '-storm')
        res.update(converged=ok2, divergent=lines2, result='exact' if ok and ok2 else 'divergent')
        say('rsync: mirror %.1fs, after the storm %.1fs, %s' % (res['mirror_s'], res['converge_s'], res['result']))
        return
    ag = Agent(label, rundir)
    res['argv'] = ag.argv
    try:
        r = wait_mirror(ag, ag.label + '-mirror', ag.t0)
        s = ag.sample()
        res.update(mirror_ok=r['ok'], mirror_s=(r['t_hit'] - ag.t0) if r['ok'] else None,
                   waited_s=r['t_hit'] - ag.t0, mirror_checks=r['checks'],
                   check_s=r['check_s'], cpu_mirror_s=s['self'], rsync_cpu_mirror_s=s['children'],
                   hwm_mirror_kb=s['hwm_kb'], slab_mirror_kb=slab_kb())
        res['watches'], res['fanotify_marks'] = ag.marks()
        if not r['ok']:
            res.update(result='no mirror: %s, %d divergent' % (r['why'], r['divergent']),
                       divergent=r['divergent'], explain=explain(label + '-mirror', []))
            say('%s: no mirror (%s; %d lines in diff-%s-mirror.txt)' % (label, r['why'], r['divergent'], label))
            return
        say('%s: mirror in %.1fs (verified in %.1fs), RSS %.1f MiB' % (
            label, res['mirror_s'], r['check_s'], (s['hwm_kb'] or 0) / 1024))
        time.sleep(2)
        before = ag.sample()
        t0 = now()
        errs = run_ops(SRC, ops, pool)
        t1 = now()
        res.update(storm_s=t1 - t0, op_errors=len(errs), op_error_sample=errs[:5])
        r = wait_mirror(ag, ag.label + '-storm', t1, storm_paths(ops))
        s = ag.sample()
        res.update(converged=r['ok'], converge_s=(r['t_hit'] - t1) if r['ok'] else None,
                   cpu_storm_s=s['self'] - before['self'],
                   rsync_cpu_storm_s=s['children'] - before['children'],
                   cpu_s=s['self'], rsync_cpu_s=s['children'], hwm_kb=s['hwm_kb'],
                   slab_end_kb=slab_kb(), divergent=r.get('divergent', 0),
                   storm_checks=r['checks'], storm_prechecks=r.get('prechecks'))
        w = ag.marks()
        res['watches_end'], res['fanotify_marks_end'] = w
        res['result'] = 'exact' if r['ok'] else '%s, %d divergent' % (r['why'], r['divergent'])
        if not r['ok']:
            res['explain'] = explain(label + '-storm', ops)
        say('%s: after the storm: %s in %s s' % (label, res['result'], '%.1f' % res['converge_s'] if r['ok'] else '-'))
    finally:
        res['rc'] = ag.stop()  # an agent that died says so in result: "agent exited rc=N"
        time.sleep(2)
        res['slab_stopped_kb'] = slab_kb()  # the agent's marks are freed by now
        shutil.copy(ag.log.name, os.path.join(OUT, 'agent-%s.log' % label))
        if label == 'lsyncd' and os.path.exists(os.path.join(rundir, 'lsyncd.log')):
            shutil.copy(os.path.join(rundir, 'lsyncd.log'), os.path.join(OUT, 'lsyncd-%s.log' % label))


def on_term(signum, frame):
    raise KeyboardInterrupt()


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: an agent's orphaned rsync comes to us
    signal.signal(signal.SIGTERM, on_term)
    agents = [a for a in E['HB_AGENTS'].split(',') if a]
    results = []
    data = {'storm': STORM, 'total': TOTAL, 'dirs': NDIRS, 'files': NFILES, 'seed': SEED,
            'nonempty': NONEMPTY, 'delay': DELAY, 'settle': SETTLE, 'timeout': TIMEOUT,
            'sysctl': {k: open('/proc/sys/fs/inotify/' + k).read().strip()
                       for k in ('max_user_watches', 'max_queued_events')},
            'runs': results}

    def flush():
        with open(os.path.join(OUT, 'results.json'), 'w') as f:
            json.dump(data, f, indent=1)
    ops = pool = None
    try:
        for label in agents:
            gen_s = None
            if ops is None:  # the storm: generated once, from the first tree's model
                umount(SRC)
                mount(SRC)
                t = now()
                dparent, fparent = gen_tree(SRC)
                gen_s = now() - t
                say('tree of %d dirs, %d files (%d inodes) in %.1fs'
                    % (NDIRS, NFILES, inodes(SRC), gen_s))
                rng = random.Random('ops:%d' % SEED)
                model = Model(dparent, fparent, rng)
                ops = gen_ops(model, NOPS, rng) if STORM == 'random' else harness_storm_ops(model, rng)
                del model
                del dparent, fparent
                pool = random.Random('pool:%d' % SEED).randbytes(POOL)
                with open(os.path.join(OUT, 'ops.jsonl'), 'w') as f:
                    for op in ops:
                        f.write(json.dumps(op) + '\n')
                mix = {}
                for op in ops:
                    mix[op[0]] = mix.get(op[0], 0) + 1
                data['mix'] = mix
                data['ops'] = len(ops)
                say('storm (%s) of %d ops: %s' % (STORM, len(ops), mix))
            one(label, ops, pool, results, gen_s)
            flush()
    except KeyboardInterrupt:
        say('interrupted')
        return 130
    finally:
        flush()
        for p in (SRC, DST):
            umount(p)
    return 0


sys.exit(main())
PY
  child=$!
  wait "$child" || say "driver exited $?"
  child=
  restore_sysctls
}

summary() {
  "$PY" - "$run" <<'PY'
# One table per part, medians over repetitions; ratios against ref (the
# naive loop: one full rsync at startup), the plain rsync floor, clsync's RSS.
import json, os, statistics, sys
run = sys.argv[1]
out = []


def load(part):
    try:
        with open(os.path.join(run, part, 'results.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def f(v, nd=2):
    return '-' if v is None else ('%.*f' % (nd, v) if isinstance(v, float) else str(v))


def x(a, b):
    return '%.2fx' % (a / b) if a is not None and b else '-'


def med(rs, key):
    xs = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def table(title, cols, rows, note=''):
    w = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    out.extend(['', '#### ' + title, '',
                '| ' + ' | '.join(c.ljust(w[i]) for i, c in enumerate(cols)) + ' |',
                '|' + '|'.join('-' * (n + 2) for n in w) + '|'])
    out.extend('| ' + ' | '.join(r[i].ljust(w[i]) for i in range(len(cols))) + ' |' for r in rows)
    if note:
        out.extend(['', note])


def by_agent(runs):
    d = {}
    for r in runs:
        d.setdefault(r['agent'], []).append(r)
    return d


d = load('startup')
if d and 'startup' in d:
    s = d['startup']
    runs = by_agent(r for r in s['runs'] if not str(r.get('rep')).startswith('warm'))
    m = {a: {'mirror': med(rs, 'sync_s'), 'cpu': med(rs, 'cpu_self_end'),
             'rsync': med(rs, 'cpu_children_end'),
             'rss': (med(rs, 'hwm_kb_end') or 0) / 1024 or None,
             'watches': med(rs, 'watches_end'), 'load': med(rs, 'foreign_cores'),
             'ok': sum(1 for r in rs if r.get('sync_s') is not None and not r.get('error')),
             'n': len(rs), 'err': '; '.join(sorted({r['error'] for r in rs if r.get('error')}))}
         for a, rs in runs.items()}
    ref, cl = m.get('ref', {}).get('mirror'), m.get('clsync', {}).get('rss')
    table('1. Startup: %d files / %d dirs / %d symlinks on tmpfs (median of reps)'
          % (s['files'], s['dirs'], s['symlinks']),
          ['agent', 'runs', 'mirror_s', 'vs ref (rsync)', 'agent_cpu_s', 'rsync_cpu_s',
           'peak_rss_MiB', 'rss vs clsync', 'watches', 'foreign_load', 'result'],
          [[a, str(v['n']), f(v['mirror']), x(v['mirror'], ref), f(v['cpu']), f(v['rsync']),
            f(v['rss'], 1), x(v['rss'], cl), f(v['watches']), f(v['load']),
            'ok' if v['ok'] == v['n'] else '%d/%d ok: %s' % (v['ok'], v['n'], v['err'])]
           for a, v in m.items()],
          'mirror_s: agent start -> destination verified identical; ref is the naive loop, whose '
          'first full rsync -aH is the floor. foreign_load: other processes\' CPU during the run, '
          'in cores (above ~0.2: rerun).')

d = load('storm')
if d and 'storm' in d:
    runs = by_agent(d['storm'])
    m = {a: {'conv': med(rs, 'converge_s'), 'cpu': med(rs, 'cpu_self'),
             'rsync': med(rs, 'cpu_children'), 'rss': (med(rs, 'hwm_kb') or 0) / 1024 or None,
             'div': max((r.get('diff') or {}).get('paths', 0) for r in rs),
             'load': med(rs, 'foreign_cores'), 'ok': sum(1 for r in rs if r.get('converged')),
             'n': len(rs), 'err': '; '.join(sorted({r['error'] for r in rs if r.get('error')}))}
         for a, rs in runs.items()}
    ref = m.get('ref', {}).get('conv')
    argv = d.get('env', {}).get('argv', [])
    base = argv[argv.index('--storm-base-files') + 1] if '--storm-base-files' in argv else '?'
    queue = d.get('env', {}).get('sysctl', {}).get('fs.inotify.max_queued_events', '?')
    table('2. Storm: %s ops on a tree of %s files (median of reps; max_queued_events=%s)'
          % (d['storm'][0].get('ops'), base, queue),
          ['agent', 'runs', 'converge_s', 'vs ref', 'agent_cpu_s', 'rsync_cpu_s', 'agent+rsync vs ref',
           'peak_rss_MiB', 'divergent', 'foreign_load', 'result'],
          [[a, str(v['n']), f(v['conv']), x(v['conv'], ref), f(v['cpu']), f(v['rsync']),
            x((v['cpu'] or 0) + (v['rsync'] or 0) if v['cpu'] is not None else None,
              ((m.get('ref') or {}).get('cpu') or 0) + ((m.get('ref') or {}).get('rsync') or 0)),
            f(v['rss'], 1), str(v['div']), f(v['load']),
            'ok' if v['ok'] == v['n'] else '%d/%d converged: %s' % (v['ok'], v['n'], v['err'])]
           for a, v in m.items()],
          'converge_s: end of the burst -> destination verified identical (the harness\'s '
          'time includes one scan of the destination by its poller). CPU from just before the '
          'burst until then.')

def driver_table(title, d):
    runs = {r['agent']: r for r in d['runs']}
    rs, ref = runs.get('rsync', {}), runs.get('ref', {})
    cl = (runs.get('clsync') or {}).get('hwm_kb')
    mib = lambda kb: kb / 1024.0 if kb is not None else None
    rows = []
    for a, r in runs.items():
        hwm = r.get('hwm_kb') or r.get('hwm_mirror_kb')
        slab_agent = (r['slab_end_kb'] - r['slab_stopped_kb']) / 1024.0 \
            if r.get('slab_end_kb') and r.get('slab_stopped_kb') else None
        slab_dst = (r['slab_stopped_kb'] - r['slab0_kb']) / 1024.0 \
            if r.get('slab_stopped_kb') and r.get('slab0_kb') else None
        expl = r.get('explain')
        if expl:
            n = sum(expl.values())
            expl = ' (last op: %s%s)' % (' '.join('%s:%d' % kv for kv in sorted(
                expl.items(), key=lambda kv: -kv[1])), ', first %d lines' % n
                if r.get('divergent', 0) > n else '')
        rows.append([a, f(r.get('mirror_s'), 1), x(r.get('mirror_s'), rs.get('mirror_s')),
                     x(r.get('mirror_s'), ref.get('mirror_s')), f(r.get('converge_s'), 2),
                     x(r.get('converge_s'), rs.get('converge_s')),
                     x(r.get('converge_s'), ref.get('converge_s')),
                     f(r.get('cpu_storm_s')), f(r.get('rsync_cpu_storm_s')),
                     f(r.get('cpu_s', r.get('cpu_mirror_s'))),
                     f(r.get('rsync_cpu_s', r.get('rsync_cpu_mirror_s'))),
                     f(mib(hwm), 1), x(hwm, cl), f(r.get('watches')), f(r.get('fanotify_marks')),
                     f(slab_agent, 1), f(slab_dst, 0), r.get('result', '?') + (expl or '')
                     + (' (%d storm ops failed)' % r['op_errors'] if r.get('op_errors') else '')])
    table(title, ['agent', 'mirror_s', 'vs rsync', 'vs ref', 'converge_s', 'vs rsync', 'vs ref',
                  'storm_cpu_s', 'storm_rsync_cpu_s', 'cpu_s', 'rsync_cpu_s', 'peak_rss_MiB',
                  'rss vs clsync', 'inotify_watches', 'fanotify_marks', 'agent_slab_MiB',
                  'dst_slab_MiB', 'result'], rows,
          'mirror_s: agent start -> destination verified identical (its inode count polled every '
          '50 ms, then `rsync -rlpcn --delete -i` printing nothing); converge_s: end of the storm '
          '-> verified again. rsync: one plain `rsync -aH --delete` into the empty destination, '
          'and one after the storm (the floor). storm_*cpu_s: from just before the storm until '
          'verified; cpu_s, rsync_cpu_s: the whole run (rsync: reaped children). agent_slab: Slab '
          'at the end minus Slab 2 s after the agent stopped (its watches or marks); dst_slab: Slab '
          'then minus before the agent started (mostly the destination tree); both move with '
          'whatever else runs on the machine. max_user_watches=%s, max_queued_events=%s.'
          % (d['sysctl']['max_user_watches'], d['sysctl']['max_queued_events']))


d = load('storm-timed')
if d and d.get('runs'):
    driver_table('2b. Storm timed by our driver: the same burst (%d ops), tree of %d files / %d dirs '
                 '(0..2048 bytes, 1%% 16..64 KiB)' % (d.get('ops', 0), d['files'], d['dirs']), d)

d = load('huge')
if d and d.get('runs'):
    driver_table('3. Huge: %d objects (%d dirs, %d files, %.0f%% non-empty) on tmpfs, %d-op random '
                 'storm (seed %d)' % (d['total'], d['dirs'], d['files'], 100 * d['nonempty'],
                                      d.get('ops', 0), d['seed']), d)

text = '\n'.join(out) + '\n'
with open(os.path.join(run, 'summary.md'), 'w') as fh:
    fh.write(text)
print('\n### bench-scale summary (%s)' % run)
print(text)
PY
}

say "results -> $run"
say "binary: $BIN ($("$BIN" -V 2>&1 | head -1 || true))"
t0=$(date +%s)
for p in "${parts[@]}"; do
  "part_$p"
done
umount_ours
summary
say "done in $(( $(date +%s) - t0 )) s; summary: $run/summary.md"
