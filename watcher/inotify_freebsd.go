//go:build freebsd

package watcher

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD's native inotify (15.0 and later). x/sys/unix has no wrappers:
// libc's inotify_init1 is __specialfd(SPECIALFD_INOTIFY, &args, sizeof
// args), and inotify_add_watch_at takes a directory descriptor, which puts
// the watch on exactly the directory that was opened without following a
// symlink.
const (
	fbsdSysSpecialfd         = 577
	fbsdSysInotifyAddWatchAt = 593
	fbsdSysInotifyRmWatch    = 594
	fbsdSpecialfdInotify     = 2
	// Unlike Linux's: O_NONBLOCK and O_CLOEXEC.
	fbsdInNonblock = 0x4
	fbsdInCloexec  = 0x100000
)

// fbsdHasInotify tells whether this kernel has native inotify. The sysctl
// is asked first: a missing system call raises SIGSYS (Go turns it into
// ENOSYS, but the sysctl says it without trying).
func fbsdHasInotify() bool {
	_, err := unix.SysctlUint32("vfs.inotify.max_user_watches")
	return err == nil
}

func fbsdInotifyInit() (int, error) {
	args := struct{ flags int32 }{fbsdInNonblock | fbsdInCloexec}
	fd, _, errno := unix.Syscall(fbsdSysSpecialfd, fbsdSpecialfdInotify, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	if errno != 0 {
		if errno == unix.EMFILE || errno == unix.ENFILE {
			return -1, fmt.Errorf("inotify_init1: %w: too many inotify instances (vfs.inotify.max_user_instances) or open files", errno)
		}
		return -1, fmt.Errorf("inotify_init1: %w", errno)
	}
	return int(fd), nil
}

// fbsdInotifyAddWatch watches the directory open as dfd: "." relative to it.
func fbsdInotifyAddWatch(ifd, dfd int, mask uint32) (int32, error) {
	dot := [2]byte{'.', 0}
	wd, _, errno := unix.Syscall6(fbsdSysInotifyAddWatchAt, uintptr(ifd), uintptr(dfd),
		uintptr(unsafe.Pointer(&dot[0])), uintptr(mask), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int32(wd), nil
}

func fbsdInotifyRmWatch(ifd int, wd int32) error {
	_, _, errno := unix.Syscall(fbsdSysInotifyRmWatch, uintptr(ifd), uintptr(wd), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// newInotifyBackend watches opts.Root with FreeBSD's native inotify.
func newInotifyBackend(ctx context.Context, opts Options, pin Root) (backend, error) {
	src, err := newSnapInotify(opts.Root, snapInotifyOps{
		init: fbsdInotifyInit, addWatch: fbsdInotifyAddWatch, rmWatch: fbsdInotifyRmWatch})
	if err != nil {
		return nil, err
	}
	core := newSnapCore(snapConfigOf(opts, pin), src, src)
	src.core = core
	return newSnapWatcher(ctx, opts, Inotify, pin, core, src)
}
