//go:build linux

package watcher

import (
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A walk makes a few system calls with a path for every directory. The
// x/sys/unix wrappers copy each path into a new allocation to NUL-terminate
// it, which made up most of the garbage of a walk; these take the path
// NUL-terminated already, built in a buffer that the watcher reuses (see
// Watcher.scratch).

func openat2(dirfd int, path []byte, how *unix.OpenHow) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(how)), unsafe.Sizeof(*how), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func openat(dirfd int, path []byte, flags int) (int, error) {
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
			uintptr(flags), 0, 0, 0)
		if errno == 0 {
			return int(fd), nil
		}
		if errno != unix.EINTR {
			return -1, errno
		}
	}
}

func inotifyAddWatch(fd int, path []byte, mask uint32) (int32, error) {
	wd, _, errno := unix.Syscall(unix.SYS_INOTIFY_ADD_WATCH, uintptr(fd), uintptr(unsafe.Pointer(&path[0])), uintptr(mask))
	if errno != 0 {
		return -1, errno
	}
	return int32(wd), nil
}

// dirOpenFlags open a directory to list it, never through a symlink.
const dirOpenFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// procFdPath returns /proc/self/fd/<fd>, NUL-terminated, in b's room: the
// path by which inotify_add_watch watches exactly the directory open as fd.
func procFdPath(b []byte, fd int) []byte {
	return append(strconv.AppendInt(append(b[:0], "/proc/self/fd/"...), int64(fd), 10), 0)
}

// cString returns the concatenation of s, NUL-terminated, in w.scratch.
func (w *treeWatcher) cString(s ...string) []byte {
	b := w.scratch[:0]
	for _, part := range s {
		b = append(b, part...)
	}
	w.scratch = append(b, 0)
	return w.scratch
}

// cPath returns the absolute path of directory n, NUL-terminated, in
// w.scratch.
func (w *treeWatcher) cPath(n *node) []byte {
	if n.parent == nil {
		return w.cString(w.opts.Root)
	}
	w.scratch = append(n.appendRel(append(w.scratch[:0], w.prefix...)), 0)
	return w.scratch
}
