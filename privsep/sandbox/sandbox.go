// Package sandbox confines one handler process. The agent starts the handler
// through an exec shim (the agent's own binary, "__exec"), which applies the
// Spec between fork and the handler's exec. A shim is needed because
// SysProcAttr cannot cut the bounding set, set no_new_privs, install a
// Landlock domain or change mounts, and because those are per-thread
// attributes that only reach the handler if the thread that set them is the
// one that calls execve.
package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
)

// ExecCommand is the hidden subcommand that runs the shim: main() hands
// os.Args[2:] to Main when os.Args[1] is ExecCommand.
const ExecCommand = "__exec"

// The values of Spec.PivotRoot (--pivot-root). The empty string means
// PivotOff.
const (
	PivotOff    = "off"     // plain chroot(2) into Spec.Chroot
	PivotDirect = "direct"  // pivot_root into Spec.Chroot, which must be a mount point
	PivotAuto   = "auto"    // bind Spec.Chroot onto itself, then pivot_root into it
	PivotAutoRO = "auto-ro" // as auto, with the new root mount read-only
)

// exitCannotRun is the shim's exit code when it could not start the
// handler, the shell's code for "found but could not execute".
const exitCannotRun = 126

// Spec is what one handler is confined to. The zero Spec confines nothing.
//
// Paths (Chroot excepted) name what the handler sees: with Chroot set they
// are paths inside the new root. All of them must be absolute.
type Spec struct {
	// UID, GID and Groups are the credentials the handler runs as,
	// applied after the mount steps (which need root) with setgroups,
	// setresgid and setresuid, so the real, effective and saved ids all
	// change. Nil Groups means none. SetIDs false keeps the shim's.
	UID, GID uint32
	Groups   []uint32
	SetIDs   bool

	// Bounding, when non-zero, cuts the capability bounding set to these
	// bits (bit n = capability n) and the inheritable set with it, so a
	// root handler gets at most these capabilities at its exec and can
	// never regain more.
	Bounding uint64

	// Landlock (--landlock) lets the handler read ReadDirs and the system
	// directories a program needs (/usr /bin /sbin /lib /lib64 /etc,
	// /proc/self, /dev/zero /dev/random /dev/urandom; /dev/null also for
	// writing) and write only WriteDirs. TCP connect and bind are refused
	// unless Network is set; on ABI 6 and later abstract unix sockets and
	// signals to processes outside the handler's domain are refused too.
	// Best effort: an older ABI enforces what it can, a kernel without
	// Landlock nothing (see LandlockABI). ReadDirs and WriteDirs must
	// exist, since rules hold inodes. Landlock does not cover chmod, chown
	// or utime: pair it with ReadOnlyRoot.
	Landlock  bool
	ReadDirs  []string
	WriteDirs []string
	Network   bool

	// ReadOnlyRoot makes every mount of the handler's mount namespace
	// read-only (MOUNT_ATTR_RDONLY, recursive from /) except WriteDirs,
	// which keep the writability they had: chmod, chown and utime outside
	// WriteDirs fail with EROFS.
	ReadOnlyRoot bool

	// Chroot (--chroot) is the handler's root directory, a host path.
	// PivotRoot (--pivot-root, one of the Pivot constants) says how to
	// enter it: pivot_root(".", ".") then a lazy unmount of the old root,
	// which leaves nothing behind (no old_root directory, nothing in
	// /dev/shm), or a plain chroot(2). PivotAutoRO makes the new root
	// mount read-only, not the mounts inside it (ReadOnlyRoot does).
	Chroot, PivotRoot string

	// Mountpoints (--mountpoints): every mount that is not listed, not a
	// parent of a listed path and not / is detached (umount2 MNT_DETACH)
	// in the handler's private mount namespace. The list is read from
	// /proc/self/mountinfo, so /proc must be mounted (inside Chroot if
	// set).
	Mountpoints []string

	// ForbidDevices (--forbid-devices) puts a fresh read-only tmpfs on
	// /dev holding only null, zero, full, random, urandom and tty (bind
	// mounts of the host's nodes, and the fd, stdin, stdout and stderr
	// links), and sets MOUNT_ATTR_NODEV on every other mount, so no other
	// device can be opened, even one made with mknod. It is mount-based:
	// no cgroup is involved.
	ForbidDevices bool
}

// MountNamespace tells whether s needs the shim to run in a mount namespace
// of its own. The caller can set SysProcAttr.Unshareflags |= CLONE_NEWNS
// then (Go makes / rprivate in the child), but the shim does not rely on
// it: it unshares again on its exec thread and makes / rprivate itself, so
// a forgotten flag, a wrapper process or Cloneflags instead of Unshareflags
// can never turn the mount steps onto the host's mounts.
func (s Spec) MountNamespace() bool {
	return s.ReadOnlyRoot || s.ForbidDevices || len(s.Mountpoints) > 0 ||
		(s.Chroot != "" && s.PivotRoot != "" && s.PivotRoot != PivotOff)
}

// IsZero tells whether s confines nothing, so the handler can be started
// without the shim.
func (s Spec) IsZero() bool {
	return !s.SetIDs && s.Bounding == 0 && !s.Landlock && !s.ReadOnlyRoot &&
		s.Chroot == "" && len(s.Mountpoints) == 0 && !s.ForbidDevices
}

// Command returns the argv that runs argv under s through the shim:
// [self, "__exec", <s as JSON>, "--", argv...]. self is the path of the
// running executable; "/proc/self/exe" works because the kernel resolves it
// at exec time.
func Command(self string, s Spec, argv []string) []string {
	// Marshal cannot fail: Spec holds only strings, integers and bools.
	enc, _ := json.Marshal(s)
	return append([]string{self, ExecCommand, string(enc), "--"}, argv...)
}

// fail reports why the shim could not start the handler, in one line as
// the agent logs it, and returns the exit code for that.
func fail(err error) int {
	fmt.Fprintf(os.Stderr, "clsync: handler sandbox: %v\n", err)
	return exitCannotRun
}
