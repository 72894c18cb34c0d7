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
