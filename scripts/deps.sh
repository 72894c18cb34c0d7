#!/bin/sh
# Installs what building and testing clsync-go needs on Debian: rsync (the
# tests use the real one), libseccomp-dev (cgo, seccomp), python3 (the
# sandbox tests' hostile handlers), Debian's clsync for the differential
# tests, systemd-analyze (the unit's check), man (the page's), make,
# iproute2 and unshare for the man page examples' tests (a network
# namespace, a private syslog socket). Does nothing when everything is
# there.
set -e
need=""
command -v rsync >/dev/null 2>&1 || need="$need rsync"
command -v clsync >/dev/null 2>&1 || need="$need clsync"
[ -f /usr/include/seccomp.h ] || need="$need libseccomp-dev"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v man >/dev/null 2>&1 || need="$need man-db"
pkg-config --exists glib-2.0 2>/dev/null || need="$need libglib2.0-dev"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing:$need; install them (apt-get install$need) or run as root" >&2
  exit 1
fi
echo "installing:$need"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
