//go:build !linux

package beneath

import (
	"strings"

	"golang.org/x/sys/unix"
)

// openDir opens root/rel as a directory, one component at a time with
// O_NOFOLLOW. pathOnly is a Linux refinement (O_PATH); here every
// component is opened for reading.
func openDir(root, rel string, pathOnly bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(root, flags, 0)
	if err != nil || rel == "" {
		return fd, err
	}
	for _, part := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, part, flags, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// dirents calls fn for each entry of a getdents buffer of the directory
// dfd but "." and "..", with whether it is a directory (asked with
// fstatat: the dirent layout differs between systems), and returns their
// number.
func dirents(dfd int, buf []byte, fn func(name string, isDir bool)) int {
	_, _, names := unix.ParseDirent(buf, -1, nil)
	for _, name := range names {
		var st unix.Stat_t
		fn(name, unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR)
	}
	return len(names)
}
