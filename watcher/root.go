package watcher

import (
	"golang.org/x/sys/unix"
)

// Root pins a watched directory by device and inode, so that nothing is
// ever synced from another directory that took its place (or from the empty
// mount point an unmount leaves), which would mirror an empty tree over the
// destination.
type Root struct {
	Path     string
	Dev, Ino uint64
}

// PinRoot records what path is now. It fails with a *WatchError if path
// cannot be read or is not a directory (a symlink included: the caller
// resolves the root first).
func PinRoot(path string) (Root, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return Root{}, &WatchError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return Root{}, &WatchError{Op: "watch", Path: path, Err: unix.ENOTDIR,
			Detail: "not a directory (the root must be resolved: no symlinks)"}
	}
	return Root{Path: path, Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

// Check returns a *RootError if the path no longer names the pinned
// directory.
func (r Root) Check() error {
	var st unix.Stat_t
	if err := unix.Lstat(r.Path, &st); err != nil {
		return &RootError{Root: r.Path, Reason: "root directory was deleted or moved away: " + err.Error()}
	}
	if !r.Is(uint64(st.Dev), uint64(st.Ino)) {
		return &RootError{Root: r.Path, Reason: "root directory was replaced by another or unmounted"}
	}
	return nil
}

// Is tells whether dev and ino are the pinned directory's.
func (r Root) Is(dev, ino uint64) bool { return dev == r.Dev && ino == r.Ino }
