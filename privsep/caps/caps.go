// Package caps names Linux capabilities and drops a whole Go process to
// given credentials and capabilities (clsync's -C, --uid and --gid).
package caps

import (
	"fmt"
	"strconv"
	"strings"
)

// Capability numbers from linux/capability.h. They are defined here, not
// taken from x/sys/unix, so that the name table builds on every GOOS.
const (
	CAP_CHOWN = iota
	CAP_DAC_OVERRIDE
	CAP_DAC_READ_SEARCH
	CAP_FOWNER
	CAP_FSETID
	CAP_KILL
	CAP_SETGID
	CAP_SETUID
	CAP_SETPCAP
	CAP_LINUX_IMMUTABLE
	CAP_NET_BIND_SERVICE
	CAP_NET_BROADCAST
	CAP_NET_ADMIN
	CAP_NET_RAW
	CAP_IPC_LOCK
	CAP_IPC_OWNER
	CAP_SYS_MODULE
	CAP_SYS_RAWIO
	CAP_SYS_CHROOT
	CAP_SYS_PTRACE
	CAP_SYS_PACCT
	CAP_SYS_ADMIN
	CAP_SYS_BOOT
	CAP_SYS_NICE
	CAP_SYS_RESOURCE
	CAP_SYS_TIME
	CAP_SYS_TTY_CONFIG
	CAP_MKNOD
	CAP_LEASE
	CAP_AUDIT_WRITE
	CAP_AUDIT_CONTROL
	CAP_SETFCAP
	CAP_MAC_OVERRIDE
	CAP_MAC_ADMIN
	CAP_SYSLOG
	CAP_WAKE_ALARM
	CAP_BLOCK_SUSPEND
	CAP_AUDIT_READ
	CAP_PERFMON
	CAP_BPF
	CAP_CHECKPOINT_RESTORE
)

// capNames is indexed by capability number; keying each entry by its
// constant keeps the two lists from drifting apart.
var capNames = [...]string{
	CAP_CHOWN:              "CAP_CHOWN",
	CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
	CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
	CAP_FOWNER:             "CAP_FOWNER",
	CAP_FSETID:             "CAP_FSETID",
	CAP_KILL:               "CAP_KILL",
	CAP_SETGID:             "CAP_SETGID",
	CAP_SETUID:             "CAP_SETUID",
	CAP_SETPCAP:            "CAP_SETPCAP",
	CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
	CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
	CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
	CAP_NET_ADMIN:          "CAP_NET_ADMIN",
	CAP_NET_RAW:            "CAP_NET_RAW",
	CAP_IPC_LOCK:           "CAP_IPC_LOCK",
	CAP_IPC_OWNER:          "CAP_IPC_OWNER",
	CAP_SYS_MODULE:         "CAP_SYS_MODULE",
	CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
	CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
	CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
	CAP_SYS_PACCT:          "CAP_SYS_PACCT",
	CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
	CAP_SYS_BOOT:           "CAP_SYS_BOOT",
	CAP_SYS_NICE:           "CAP_SYS_NICE",
	CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
	CAP_SYS_TIME:           "CAP_SYS_TIME",
	CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
	CAP_MKNOD:              "CAP_MKNOD",
	CAP_LEASE:              "CAP_LEASE",
	CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
	CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
	CAP_SETFCAP:            "CAP_SETFCAP",
	CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
	CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
	CAP_SYSLOG:             "CAP_SYSLOG",
	CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
	CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
	CAP_AUDIT_READ:         "CAP_AUDIT_READ",
	CAP_PERFMON:            "CAP_PERFMON",
	CAP_BPF:                "CAP_BPF",
	CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
}

// Set is a set of Linux capabilities: bit n is capability n.
type Set uint64

// Default is clsync 0.4.5's -C default.
const Default Set = 1<<CAP_DAC_READ_SEARCH | 1<<CAP_SETUID | 1<<CAP_SETGID | 1<<CAP_KILL

// Parse reads clsync's -C list. Names are case-insensitive and the "CAP_"
// prefix is optional, as in "CAP_DAC_READ_SEARCH" or "dac_read_search".
// Empty entries are skipped, so an empty -C value keeps nothing.
// RootHandler is what a handler running as root needs to mirror a tree
// (rsync -a: owners, modes, times, special files) and no more: the
// bounding set a uid-0 helper keeps for the handlers it starts.
const RootHandler Set = 1<<CAP_CHOWN | 1<<CAP_DAC_OVERRIDE | 1<<CAP_DAC_READ_SEARCH | 1<<CAP_FOWNER |
	1<<CAP_FSETID | 1<<CAP_MKNOD | 1<<CAP_SETGID | 1<<CAP_SETUID | 1<<CAP_KILL

func Parse(names []string) (Set, error) {
	var s Set
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		n := lookup(name)
		if n < 0 {
			return 0, fmt.Errorf("unknown capability %q (see capabilities(7))", name)
		}
		s |= 1 << n
	}
	return s, nil
}

func lookup(name string) int {
	want := strings.ToUpper(name)
	if !strings.HasPrefix(want, "CAP_") {
		want = "CAP_" + want
	}
	for n, known := range capNames {
		if known == want {
			return n
		}
	}
	return -1
}

// Has reports whether capability c is in s.
func (s Set) Has(c int) bool { return c >= 0 && c < 64 && s&(1<<c) != 0 }

// String lists the names in number order, "none" for the empty set.
// Capabilities newer than the table are shown as their number.
func (s Set) String() string {
	if s == 0 {
		return "none"
	}
	var out []string
	for n := range 64 {
		switch {
		case !s.Has(n):
		case n < len(capNames):
			out = append(out, capNames[n])
		default:
			out = append(out, strconv.Itoa(n))
		}
	}
	return strings.Join(out, ",")
}

// Creds are the ids a process drops to. Empty Groups means none.
type Creds struct {
	UID, GID uint32
	Groups   []uint32
}
