//go:build linux || freebsd

package watcher

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// File-system reads of the snapshot backends, shared by FreeBSD (where they
// run) and Linux (where the tests run them on a real kernel).

const snapDirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// snapOpenDir opens the directory rel below root one component at a time,
// never following a symlink: a directory replaced by a symlink must not
// lead the watcher out of the tree.
func snapOpenDir(root, rel string) (int, error) {
	fd, err := snapOpenat(unix.AT_FDCWD, root, snapDirFlags)
	if err != nil || rel == "" {
		return fd, err
	}
	for part := range strings.SplitSeq(rel, "/") {
		next, err := snapOpenat(fd, part, snapDirFlags)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

func snapOpenat(dirfd int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// snapEntryOf is what a listing records of st.
func snapEntryOf(st *unix.Stat_t) snapEntry {
	mode := uint32(st.Mode)
	return snapEntry{dev: uint64(st.Dev), ino: uint64(st.Ino), size: int64(st.Size), mtime: st.Mtim.Nano(),
		mode: mode, isDir: mode&snapIFMT == unix.S_IFDIR}
}

// snapFstat is the identity of the open directory or file fd.
func snapFstat(fd int) (snapEntry, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return snapEntry{}, fmt.Errorf("fstat: %w", err)
	}
	return snapEntryOf(&st), nil
}

// snapStatAt describes name in the open directory dfd without following
// a symlink.
func snapStatAt(dfd int, name string) (snapEntry, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil {
			return snapEntryOf(&st), nil
		}
		if err != unix.EINTR {
			return snapEntry{}, err
		}
	}
}

// snapReadDir lists the open directory dfd from its start (getdents on
// Linux, getdirentries on FreeBSD), with a stat of each entry; buf is
// scratch space of at least a page. A name that vanishes between the two
// is left out: its removal is notified.
func snapReadDir(dfd int, buf []byte) (map[string]snapEntry, error) {
	if _, err := unix.Seek(dfd, 0, 0); err != nil {
		return nil, fmt.Errorf("seek: %w", err)
	}
	entries := make(map[string]snapEntry)
	var names []string
	for {
		n, err := unix.Getdents(dfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getdents: %w", err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, name := range names {
			e, err := snapStatAt(dfd, name)
			if snapVanished(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("stat %s: %w", name, err)
			}
			entries[name] = e
		}
	}
	return entries, nil
}
