//go:build linux

package beneath

import (
	"bytes"
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"
)

// openDir opens root/rel as a directory with openat2(RESOLVE_NO_SYMLINKS),
// or component by component where openat2 is missing (before Linux 5.6,
// or refused by a seccomp filter). pathOnly opens it for lookups only.
func openDir(root, rel string, pathOnly bool) (int, error) {
	flags := uint64(unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC)
	if pathOnly {
		flags |= unix.O_PATH
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(unix.AT_FDCWD, join(root, rel), &how)
		switch {
		case err == nil:
			return fd, nil
		case (err == unix.EINTR || err == unix.EAGAIN) && tries < 100:
			// EAGAIN: a concurrent rename raced with the lookup.
			continue
		case err == unix.ENOSYS || err == unix.EPERM:
			return openByComponent(root, rel, int(flags))
		}
		return -1, err
	}
}

// OpenDirByComponent opens the directory rel below root for reading one
// component at a time with O_NOFOLLOW, as OpenDir does where openat2 is
// missing; it returns the descriptor. The watcher, which opens directories
// with openat2 itself, uses it where openat2 is missing.
func OpenDirByComponent(root, rel string) (int, error) {
	return openByComponent(root, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
}

// openByComponent opens root, then each component of rel relative to the
// one before with O_NOFOLLOW, the last one with flags.
func openByComponent(root, rel string, flags int) (int, error) {
	const step = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if rel == "" {
		return unix.Open(root, flags, 0)
	}
	fd, err := unix.Open(root, step, 0)
	if err != nil {
		return -1, err
	}
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		f := step
		if i == len(parts)-1 {
			f = flags
		}
		next, err := unix.Openat(fd, part, f, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// dirents calls fn for each entry of a getdents buffer of the directory
// dfd but "." and "..", with whether it is a directory (from d_type; where
// the file system leaves it out, from fstatat), and returns their number.
func dirents(dfd int, buf []byte, fn func(name string, isDir bool)) int {
	// struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2),
	// d_type (1), d_name (NUL-terminated).
	const nameOff = 19
	n := 0
	for len(buf) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[16:]))
		if reclen < nameOff || reclen > len(buf) {
			break
		}
		name := buf[nameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		typ := buf[18]
		buf = buf[reclen:]
		if string(name) == "." || string(name) == ".." {
			continue
		}
		n++
		isDir := typ == unix.DT_DIR
		if typ == unix.DT_UNKNOWN {
			var st unix.Stat_t
			isDir = unix.Fstatat(dfd, string(name), &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
		}
		fn(string(name), isDir)
	}
	return n
}
