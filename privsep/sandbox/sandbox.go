// Package sandbox confines handler processes. SysProcAttr cannot cut the
// bounding set, set no_new_privs, install a Landlock domain or change
// mounts; these are per-thread attributes, and a child inherits those of
// the thread that forked it. So a Launcher sets them up once, on one OS
// thread of the agent that does nothing else, and forks every handler
// from it: a handler costs one plain fork and exec, not a shim's re-exec
// and a mount namespace built anew.
package sandbox

// The values of Spec.PivotRoot (--pivot-root). The empty string means
// PivotOff.
const (
	PivotOff    = "off"     // plain chroot(2) into Spec.Chroot
	PivotDirect = "direct"  // pivot_root into Spec.Chroot, which must be a mount point
	PivotAuto   = "auto"    // bind Spec.Chroot onto itself, then pivot_root into it
	PivotAutoRO = "auto-ro" // as auto, with the new root mount read-only
)

// Spec is what one handler is confined to. The zero Spec confines nothing.
//
// Paths (Chroot excepted) name what the handler sees: with Chroot set they
// are paths inside the new root. All of them must be absolute.
type Spec struct {
	// NoNewPrivs sets no_new_privs for the handlers: setuid programs
	// then give a non-root handler nothing. (A root handler goes without:
	// no_new_privs would also keep it from regaining the capabilities
	// Bounding leaves it at exec.)
	NoNewPrivs bool

	// Bounding, when non-zero, cuts the capability bounding set to these
	// bits (bit n = capability n) and the inheritable set with it, so a
	// root handler gets at most these capabilities at its exec and can
	// never regain more.
	Bounding uint64

	// Landlock (--landlock) lets the handler read ReadDirs and the system
	// directories a program needs (/usr /bin /sbin /lib /lib64 /etc,
	// /proc, /dev/zero /dev/random /dev/urandom; /dev/null also for
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

// MountNamespace tells whether s needs a mount namespace of its own (the
// launcher's thread unshares it and makes / private, so no step reaches the
// host's mounts).
func (s Spec) MountNamespace() bool {
	return s.ReadOnlyRoot || s.ForbidDevices || len(s.Mountpoints) > 0 ||
		(s.Chroot != "" && s.PivotRoot != "" && s.PivotRoot != PivotOff)
}

// IsZero tells whether s confines nothing, so handlers need no Launcher.
func (s Spec) IsZero() bool {
	return !s.NoNewPrivs && s.Bounding == 0 && !s.Landlock && !s.ReadOnlyRoot &&
		s.Chroot == "" && len(s.Mountpoints) == 0 && !s.ForbidDevices
}
