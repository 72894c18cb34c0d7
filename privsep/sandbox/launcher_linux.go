//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Check tells whether s is well-formed, so that the agent can refuse bad
// options once at startup instead of failing every handler.
func (s Spec) Check() error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("handler sandbox: %w", err)
	}
	return nil
}

func (s Spec) validate() error {
	switch s.PivotRoot {
	case "", PivotOff, PivotDirect, PivotAuto, PivotAutoRO:
	default:
		return fmt.Errorf("pivot-root %q: want %s, %s, %s or %s", s.PivotRoot, PivotOff, PivotDirect, PivotAuto, PivotAutoRO)
	}
	if s.Chroot == "" && s.PivotRoot != "" && s.PivotRoot != PivotOff {
		return fmt.Errorf("pivot-root %s needs a chroot directory", s.PivotRoot)
	}
	// Relative paths would depend on the launcher thread's working directory, which
	// the pivot changes.
	for _, list := range [][]string{{s.Chroot}, s.ReadDirs, s.WriteDirs, s.Mountpoints} {
		for _, p := range list {
			if p != "" && !filepath.IsAbs(p) {
				return fmt.Errorf("%q is not an absolute path", p)
			}
		}
	}
	return nil
}

// LandlockABI is the kernel's Landlock ABI version, 0 when it has none.
func LandlockABI() int {
	v, err := llsyscall.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// confine applies s to the calling thread, in order: mounts (they need
// root), the bounding set (it needs CAP_SETPCAP), no_new_privs, Landlock.
func confine(s Spec) error {
	var devices []deviceClone
	if s.MountNamespace() {
		if err := privateMountNamespace(); err != nil {
			return err
		}
	}
	if s.ForbidDevices {
		// The host's nodes, taken before the pivot hides them.
		var err error
		if devices, err = cloneDevices(); err != nil {
			return err
		}
	}
	if s.Chroot != "" {
		if err := enterRoot(s); err != nil {
			return err
		}
	}
	if len(s.Mountpoints) > 0 {
		if err := detachUnlisted(s.Mountpoints); err != nil {
			return err
		}
	}
	if s.ReadOnlyRoot {
		if err := readOnlyRoot(s.WriteDirs); err != nil {
			return err
		}
	}
	if s.ForbidDevices {
		if err := forbidDevices(devices, append(slices.Clone(s.ReadDirs), s.WriteDirs...)); err != nil {
			return err
		}
	}
	if s.Bounding != 0 {
		if err := cutBounding(s.Bounding); err != nil {
			return err
		}
	}
	ruleset, flags := -1, uint32(0)
	if s.Landlock {
		// Built after the pivot: the rule paths are opened in the new
		// root, by root, so the handler's uid need not reach them.
		var err error
		if ruleset, flags, err = landlockRuleset(s); err != nil {
			return err
		}
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if ruleset >= 0 {
		if err := restrictSelf(ruleset, flags); err != nil {
			return err
		}
	}
	return nil
}

// privateMountNamespace gives this thread a mount namespace of its own and
// makes every mount in it private, so that no unmount or remount below
// propagates to the host (C clsync skipped the second part).
func privateMountNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	return nil
}

// enterRoot makes s.Chroot the root directory and the working directory.
// The pivot is runc's: pivot_root(".", ".") stacks the old root under the
// new one at ".", and a lazy unmount of "." drops it, so no old_root
// directory is needed and nothing is left behind. PivotDirect therefore
// needs only that Chroot be a mount point, not C clsync's DIR/old_root.
func enterRoot(s Spec) error {
	dir := s.Chroot
	bind := s.PivotRoot == PivotAuto || s.PivotRoot == PivotAutoRO ||
		// A plain chroot into a directory that is no mount root would
		// leave "/" unusable for mount_setattr in the later steps.
		((s.PivotRoot == "" || s.PivotRoot == PivotOff) && s.MountNamespace())
	if bind {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s onto itself: %w", dir, err)
		}
	}
	if s.PivotRoot == PivotDirect {
		if err := checkMountPoint(dir); err != nil {
			return err
		}
	}
	if s.PivotRoot == PivotAutoRO {
		// Only the new root mount: mounts placed inside it (a destination,
		// /proc) keep their own flags; ReadOnlyRoot covers those.
		if err := setMountAttr(dir, 0, unix.MOUNT_ATTR_RDONLY); err != nil {
			return err
		}
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("chdir %s: %w", dir, err)
	}
	if s.PivotRoot == "" || s.PivotRoot == PivotOff {
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot %s: %w", dir, err)
		}
	} else {
		if err := unix.PivotRoot(".", "."); err != nil {
			return fmt.Errorf("pivot_root %s: %w", dir, err)
		}
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach the old root: %w", err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in %s: %w", dir, err)
	}
	return nil
}

// checkMountPoint refuses a directory that is not the root of a mount,
// which pivot_root would refuse with an errno that does not say so.
func checkMountPoint(dir string) error {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_BASIC_STATS, &st); err != nil {
		return fmt.Errorf("pivot-root direct: %w", err)
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return fmt.Errorf("pivot-root direct: %s is not a mount point (auto binds one)", dir)
	}
	return nil
}

// setMountAttr applies mount_setattr(2) to the mount at path (and the ones
// below it with AT_RECURSIVE). Unlike MS_RDONLY on a fresh bind mount,
// which the kernel ignores, this really changes the mount.
func setMountAttr(path string, flags uint, attr uint64) error {
	if err := unix.MountSetattr(unix.AT_FDCWD, path, flags, &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", path, err)
	}
	return nil
}

// detachUnlisted detaches every mount that is not in keep, not a parent of
// a path in keep and not /.
func detachUnlisted(keep []string) error {
	listed := make([]string, 0, len(keep))
	for _, p := range keep {
		// mountinfo shows resolved paths: /var/run must match /run.
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		listed = append(listed, filepath.Clean(p))
	}
	kept := func(mp string) bool {
		if mp == "/" {
			return true
		}
		for _, l := range listed {
			if l == mp || strings.HasPrefix(l, mp+"/") {
				return true
			}
		}
		return false
	}
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	// mountinfo lists a parent before its children, so the reverse order
	// detaches children first and the top of a stack before what it hides.
	for _, mp := range slices.Backward(mounts) {
		if kept(mp) {
			continue
		}
		err := unix.Unmount(mp, unix.MNT_DETACH)
		// EINVAL and ENOENT: already gone with a detached parent.
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("mountpoints: detach %s: %w", mp, err)
		}
	}
	return nil
}

// mountPoints returns the mount points of this thread's mountinfo in its
// order, relative to its root. Not /proc/self: that is the thread-group
// leader, which keeps the namespace and root it had before our unshare.
func mountPoints() ([]string, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mountpoints: %w", err)
	}
	var mps []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 ...": field 5.
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			return nil, fmt.Errorf("mountpoints: bad mountinfo line %q", sc.Text())
		}
		mps = append(mps, unescapeMountinfo(f[4]))
	}
	return mps, sc.Err()
}

// unescapeMountinfo decodes the octal escapes (\040 for a space, \011,
// \012, \134) the kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readOnlyRoot makes every mount read-only except writeDirs. Each write
// directory is cloned (open_tree) before the recursive read-only change and
// attached back on top afterwards, so it keeps exactly the writability it
// had: a directory on a mount the host made read-only stays read-only.
func readOnlyRoot(writeDirs []string) error {
	dirs, clones, err := cloneTrees(writeDirs)
	if err != nil {
		return fmt.Errorf("read-only root: %w", err)
	}
	if err := setMountAttr("/", unix.AT_RECURSIVE, unix.MOUNT_ATTR_RDONLY); err != nil {
		return fmt.Errorf("read-only root: %w", err)
	}
	for i, d := range dirs {
		if err := attach(clones[i], d); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	return nil
}

// cloneTrees takes detached recursive clones (open_tree) of dirs, to be
// attached back after a step hides or changes what is there. They come
// back sorted parents first, so that a nested directory lands on top of
// its parent's clone instead of under it.
func cloneTrees(dirs []string) ([]string, []int, error) {
	dirs = slices.Clone(dirs)
	slices.SortFunc(dirs, func(a, b string) int { return len(a) - len(b) })
	clones := make([]int, len(dirs))
	for i, d := range dirs {
		fd, err := unix.OpenTree(unix.AT_FDCWD, d, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			for _, c := range clones[:i] {
				unix.Close(c)
			}
			return nil, nil, fmt.Errorf("clone %s: %w", d, err)
		}
		clones[i] = fd
	}
	return dirs, clones, nil
}

// attach puts the detached mount fd (from open_tree) on path and closes fd.
func attach(fd int, path string) error {
	defer unix.Close(fd)
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach %s: %w", path, err)
	}
	return nil
}

// deviceClone is a detached bind mount of one host device node.
type deviceClone struct {
	name string
	fd   int
}

// cloneDevices takes detached bind mounts of the host device nodes a
// handler keeps under ForbidDevices (runc's default set, which shell
// scripts and rsync live with), skipping what is missing or is no character
// device. The fds are close-on-exec and closed once attached.
func cloneDevices() ([]deviceClone, error) {
	var out []deviceClone
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		path := "/dev/" + name
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			continue
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("forbid-devices: clone %s: %w", path, err)
		}
		out = append(out, deviceClone{name, fd})
	}
	return out, nil
}

// forbidDevices sets nodev on every mount, then puts a tmpfs holding only
// the cloned nodes on /dev (when the root has a /dev) and makes it
// read-only. The clones keep the host's flags, so those nodes still work.
// The directories of keep below /dev (a tree mirrored from /dev/shm) are
// cloned first and put back in the new /dev, as they were.
func forbidDevices(devices []deviceClone, keep []string) error {
	if err := setMountAttr("/", unix.AT_RECURSIVE, unix.MOUNT_ATTR_NODEV); err != nil {
		return fmt.Errorf("forbid-devices: %w", err)
	}
	if st, err := os.Stat("/dev"); err != nil || !st.IsDir() {
		// A root without /dev: nodev alone refuses every device.
		return nil
	}
	var under []string
	for _, d := range keep {
		if strings.HasPrefix(d, "/dev/") {
			under = append(under, d)
		}
	}
	under, clones, err := cloneTrees(under)
	if err != nil {
		return fmt.Errorf("forbid-devices: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("forbid-devices: mount tmpfs on /dev: %w", err)
	}
	for _, d := range devices {
		path := "/dev/" + d.name
		// A bind mount needs an existing file to land on.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("forbid-devices: %w", err)
		}
		f.Close()
		if err := attach(d.fd, path); err != nil {
			return fmt.Errorf("forbid-devices: %w", err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return fmt.Errorf("forbid-devices: %w", err)
		}
	}
	for i, d := range under {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("forbid-devices: %w", err)
		}
		if err := attach(clones[i], d); err != nil {
			return fmt.Errorf("forbid-devices: %w", err)
		}
	}
	if err := setMountAttr("/dev", 0, unix.MOUNT_ATTR_RDONLY); err != nil {
		return fmt.Errorf("forbid-devices: %w", err)
	}
	return nil
}

// cutBounding drops every capability outside keep from the bounding set
// and the inheritable set of this thread. Both matter for a root handler:
// execve gives uid 0 the permitted set inheritable | bounding (and ambient,
// which the kernel lowers with inheritable).
func cutBounding(keep uint64) error {
	for c := 0; c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // past the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("bounding set: read capability %d: %w", c, err)
		}
		if in == 1 && keep&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("bounding set: drop capability %d: %w", c, err)
			}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("bounding set: capget: %w", err)
	}
	data[0].Inheritable &= uint32(keep)
	data[1].Inheritable &= uint32(keep >> 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("bounding set: lower the inheritable set: %w", err)
	}
	return nil
}

// landlockRuleset builds the handler's ruleset; fd is -1 when the kernel
// has no Landlock (best effort).
func landlockRuleset(s Spec) (fd int, flags uint32, err error) {
	// Denials of the handler go to the audit log: a handler is expected
	// to stay inside its rules, so a denial is worth seeing.
	cfg := landlock.V7.BestEffort().EnableLoggingForSubprocesses()
	if s.Network {
		cfg.HandledAccessNet = 0
	}
	write := landlock.RWDirs(s.WriteDirs...)
	// Refer lets rsync --backup-dir and mv move files between write
	// directories. go-landlock drops the whole ruleset when asked for
	// Refer on ABI 1, so ask only where it exists.
	if LandlockABI() >= 2 {
		write = write.WithRefer()
	}
	rules := []landlock.Rule{
		// What a dynamically linked program or a shell script needs to
		// read and execute; what is missing (in a chroot) is skipped.
		landlock.RODirs("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc").IgnoreIfMissing(),
		// Each handler is its own process: /proc/self would name the
		// agent's. The kernel's own checks still guard other processes.
		landlock.RODirs("/proc").IgnoreIfMissing(),
		landlock.RWFiles("/dev/null").IgnoreIfMissing(),
		landlock.ROFiles("/dev/zero", "/dev/random", "/dev/urandom").IgnoreIfMissing(),
		landlock.RODirs(s.ReadDirs...),
		write,
	}
	fd, flags, err = cfg.NewRulesetFD(rules...)
	if err != nil {
		return -1, 0, fmt.Errorf("landlock: %w", err)
	}
	return fd, flags, nil
}

// restrictSelf puts this thread, and so every handler it forks, into the
// ruleset's domain (without no_new_privs, the thread needs CAP_SYS_ADMIN).
// A setuid program a handler runs stays in the domain too.
func restrictSelf(ruleset int, flags uint32) error {
	defer unix.Close(ruleset)
	if err := llsyscall.LandlockRestrictSelf(ruleset, flags); err != nil {
		return fmt.Errorf("landlock: restrict: %w", err)
	}
	return nil
}

// Launcher starts processes from one OS thread that carries a Spec: its
// mount namespace, root, bounding set, no_new_privs and Landlock domain are
// set up once, on that thread only, and every process forked from it
// inherits them. The thread does nothing else and lives as long as the
// process, so a parent-death signal tied to it fires only when the agent
// is gone.
type Launcher struct {
	spec Spec
	once sync.Once
	err  error
	work chan func()
}

// NewLauncher makes the launcher for s; its thread is set up by Setup or
// the first Run.
func NewLauncher(s Spec) *Launcher { return &Launcher{spec: s, work: make(chan func())} }

// Setup sets the thread up now: before the agent drops the privileges that
// the mount steps and the bounding set need.
func (l *Launcher) Setup() error {
	l.once.Do(func() {
		ready := make(chan error)
		go func() {
			// Never unlocked: a goroutine that ends locked takes its
			// thread with it, so no other goroutine ever runs on it.
			runtime.LockOSThread()
			err := l.spec.validate()
			if err == nil {
				err = confine(l.spec)
			}
			if err != nil {
				ready <- fmt.Errorf("handler sandbox: %w", err)
				return
			}
			ready <- nil
			for f := range l.work {
				f()
			}
		}()
		l.err = <-ready
	})
	return l.err
}

// Run runs f on the launcher's thread: f starts the process (exec.Cmd's
// Start forks from the calling thread).
func (l *Launcher) Run(f func() error) error {
	if err := l.Setup(); err != nil {
		return err
	}
	done := make(chan error)
	l.work <- func() { done <- f() }
	return <-done
}
